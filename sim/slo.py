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


def evaluate(result: RunResult) -> dict:
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
    return {"met": not violations, "violations": violations, "checked": checked}


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
