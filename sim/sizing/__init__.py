"""Sizing: the cheapest server and staffing plan that meets the scenario's SLOs."""
