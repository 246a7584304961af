"""Shopper and shop rules that the model (SimPy) and the drill (Locust) both execute.

Nothing here knows an engine: functions take the scenario and their random draws (callables)
and return plans and decisions. ``sim/model/`` replays them in simulated time, ``loadtests/``
against a real service, so the two cannot drift apart (the parity tests hold them together).
"""
