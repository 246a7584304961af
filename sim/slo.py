"""Judging a run against the scenario's SLOs, hour by hour.

A planner needs to know *where* a plan fails, not only whether: each violation names the
metric, the endpoint, the hour (local clock) and by how much. Latency is judged on the p99 of
every measured hour (replications pooled); the error rate on every hour's errors / requests.
An hour with no traffic cannot violate a latency SLO.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .model.observer import MINUTE

if TYPE_CHECKING:
    from .run import RunResult

HOUR = 3600.0


def evaluate(result: RunResult, summary: dict) -> dict:
    """Every SLO of the scenario, judged on the run; ``summary`` supplies the sections."""
    scenario = result.scenario
    slo = scenario.slo
    if slo is None:
        return {"met": True, "violations": [], "checked": []}
    violations: list[dict] = []
    checked: list[str] = []
    clock = scenario.clock
    hours = max(len(o.hourly_latency) for o in result.observations)
    limits = slo.latency_p99
    endpoints = [e for e in scenario.platform.endpoints if e in limits or "default" in limits]
    if endpoints:
        checked.append("latency_p99")
    for hour in range(hours):
        window = {"from": clock.label(hour * HOUR),
                  "to": clock.label(min((hour + 1) * HOUR, clock.duration))}
        for endpoint in endpoints:
            limit = limits.get(endpoint, limits.get("default"))
            pooled = result.pooled(lambda o, h=hour, e=endpoint: o.hourly_latency[h].get(e)
                                   if h < len(o.hourly_latency) else None)
            if not pooled.count:
                continue
            p99 = pooled.quantile(0.99)
            if p99 > limit:
                violations.append({"metric": "latency_p99", "endpoint": endpoint, **window,
                                   "value_ms": round(p99 * 1000, 1),
                                   "limit_ms": round(limit * 1000, 1),
                                   "over_by": f"{(p99 / limit - 1):.0%}"})
    if slo.error_rate < 1:
        checked.append("error_rate")
        violations += _error_rate(result, slo.error_rate)
    if slo.support is not None and summary.get("support"):
        checked += ["support_service_level", "support_abandon_rate"]
        violations += _support(summary["support"]["intervals"], slo.support)
    checked.append("oversell")
    for sku, figures in summary.get("inventory", {}).items():
        oversold = figures["oversold"]
        worst = oversold["ci95"][1] if isinstance(oversold, dict) else oversold
        if worst > slo.oversell:
            violations.append({"metric": "oversell", "endpoint": sku, "from": "", "to": "",
                               "value": worst, "limit": slo.oversell, "over_by": "n/a"})
    return {"met": not violations, "violations": violations, "checked": checked}


def _support(intervals: list[dict], target) -> list[dict]:
    """Service level and abandonment per staffing interval (intervals nobody called are fine)."""
    found = []
    for interval in intervals:
        window = {"from": interval["from"], "to": interval["to"]}
        if not interval["offered"]:
            continue
        level = interval["service_level"]
        if level is not None and level < target.service_level:
            found.append({"metric": "support_service_level", "endpoint": "support", **window,
                          "value": round(level, 4), "limit": target.service_level,
                          "over_by": f"{(target.service_level - level) * 100:.0f} points"})
        abandon = interval["abandon_rate"]
        if abandon is not None and abandon > target.max_abandon:
            found.append({"metric": "support_abandon_rate", "endpoint": "support", **window,
                          "value": round(abandon, 4), "limit": target.max_abandon,
                          "over_by": f"{(abandon - target.max_abandon) * 100:.0f} points"})
    return found


def _error_rate(result: RunResult, limit: float) -> list[dict]:
    clock = result.scenario.clock
    per_hour = int(HOUR // MINUTE)
    errors = sum(o.series["errors"] for o in result.observations)
    requests = sum(o.series["requests"] for o in result.observations)
    first = int(np.ceil(clock.warmup / MINUTE))
    found = []
    for start in range(0, len(errors), per_hour):
        if start + per_hour <= first:
            continue
        lo = max(start, first)
        n = float(requests[lo:start + per_hour].sum())
        rate = float(errors[lo:start + per_hour].sum()) / n if n else 0.0
        if rate > limit:
            found.append({"metric": "error_rate", "endpoint": "all",
                          "from": clock.label(start * MINUTE),
                          "to": clock.label(min((start + per_hour) * MINUTE, clock.duration)),
                          "value": round(rate, 5), "limit": limit,
                          "over_by": f"{(rate / limit - 1):.0%}" if limit else "n/a"})
    return found
