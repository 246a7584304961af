"""Judging a run against the scenario's SLOs, hour by hour, and the verdict a planner reads.

A planner needs to know *where* a plan fails, not only whether: each violation names the
metric, the endpoint, the hour (local clock) and by how much. Latency is judged on the p99 of
every measured hour (replications pooled); the error rate on every hour's errors / requests.
An hour with no traffic cannot violate a latency SLO.

``violations`` keeps one row per hour (or staffing interval) for scripts; ``breaches`` is the
verdict: consecutive intervals with the same breach merged into one row, the endpoints of one
latency breach side by side, and a note when an hour's breach sits in a single minute (a
burst that a bigger plan for the whole hour would not be needed for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..behaviour.slo import judge, limit_for
from ..model.observer import MINUTE
from ..report.formatting import breach_text

if TYPE_CHECKING:
    from ..run import RunResult

HOUR = 3600.0
FLOORS = frozenset({"support_service_level"})
"""Metrics whose SLO is a floor: a breach is a shortfall, not an excess."""
BURST_MINUTES = 3
"""A breach confined to this many minutes of its hour is reported as a burst, with its minutes."""


def evaluate(result: RunResult, summary: dict) -> dict:
    """Every SLO of the scenario, judged on the run; ``summary`` supplies the sections."""
    scenario = result.scenario
    slo = scenario.slo
    if slo is None:
        return {"met": True, "violations": [], "breaches": [], "checked": []}
    violations: list[dict] = []
    checked: list[str] = []
    limits: dict[str, float] = {e: limit for e in scenario.platform.endpoints
                                if (limit := limit_for(slo, e)) is not None}
    if limits:
        checked.append("latency_p99")
        violations += _latency(result, limits)
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
    return {"met": not violations, "violations": violations,
            "breaches": merge_breaches(violations), "checked": checked}


def _hours(result: RunResult) -> list[tuple[int, dict[str, str]]]:
    clock = result.scenario.clock
    hours = max(len(o.hourly_latency) for o in result.observations)
    return [(hour, {"from": clock.label(hour * HOUR),
                    "to": clock.label(min((hour + 1) * HOUR, clock.duration))})
            for hour in range(hours)]


def _latency(result: RunResult, limits: dict[str, float]) -> list[dict]:
    found = []
    for hour, window in _hours(result):
        for endpoint, limit in limits.items():
            pooled = result.pooled(lambda o, h=hour, e=endpoint: o.hourly_latency[h].get(e)  # type: ignore[misc]
                                   if h < len(o.hourly_latency) else None)
            if not pooled.count:
                continue
            p99 = pooled.quantile(0.99)
            violation = judge("latency_p99", endpoint, p99, limit)
            if violation is not None:
                found.append({"metric": "latency_p99", "endpoint": endpoint, **window,
                              "value_ms": round(p99 * 1000, 1),
                              "limit_ms": round(limit * 1000, 1),
                              "over_by": violation.over_by,
                              **_minutes_over(result, hour,
                                              _minute_p99(result, endpoint) > limit * 1000)})
    return found


def _minute_p99(result: RunResult, endpoint: str) -> np.ndarray:
    """The endpoint's p99 per minute (ms), the mean over replications; NaN where idle."""
    column = f"p99_ms_{endpoint}"
    stacked = np.vstack([o.series[column] for o in result.observations])
    counted = (~np.isnan(stacked)).sum(axis=0)
    total = np.nansum(stacked, axis=0)
    return np.divide(total, counted, out=np.full(len(total), np.nan), where=counted > 0)


def _minutes_over(result: RunResult, hour: int, over: np.ndarray) -> dict:
    """Which minutes of ``hour`` broke the limit: ``minutes_over`` and, for a burst, their
    clock labels (``minutes``)."""
    per_hour = int(HOUR // MINUTE)
    first = max(hour * per_hour, int(np.ceil(result.scenario.clock.warmup / MINUTE)))
    window = over[first:(hour + 1) * per_hour]
    at = [first + int(i) for i in np.flatnonzero(window)]
    figures: dict[str, object] = {"minutes_over": len(at)}
    if 0 < len(at) <= BURST_MINUTES:
        figures["minutes"] = [result.scenario.clock.label(m * MINUTE) for m in at]
    return figures


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
                          "short_by": _points(target.service_level - level)})
        abandon = interval["abandon_rate"]
        if abandon is not None and abandon > target.max_abandon:
            found.append({"metric": "support_abandon_rate", "endpoint": "support", **window,
                          "value": round(abandon, 4), "limit": target.max_abandon,
                          "over_by": _points(abandon - target.max_abandon)})
    return found


def _points(gap: float) -> str:
    """A gap between two fractions in percentage points; below one point with a decimal, so a
    real shortfall never reads "0 points"."""
    points = gap * 100
    return f"{points:.0f} points" if points >= 1 else f"{points:.1f} points"


def _error_rate(result: RunResult, limit: float) -> list[dict]:
    clock = result.scenario.clock
    per_hour = int(HOUR // MINUTE)
    errors = np.sum([o.series["errors"] for o in result.observations], axis=0)
    requests = np.sum([o.series["requests"] for o in result.observations], axis=0)
    first = int(np.ceil(clock.warmup / MINUTE))
    minute_rate = np.divide(errors, requests, out=np.zeros(len(errors)), where=requests > 0)
    found = []
    for hour, start in enumerate(range(0, len(errors), per_hour)):
        if start + per_hour <= first:
            continue
        window = slice(max(start, first), start + per_hour)
        n = float(requests[window].sum())
        rate = float(errors[window].sum()) / n if n else 0.0
        violation = judge("error_rate", "all", rate, limit)
        if violation is None:
            continue
        entry = {"metric": "error_rate", "endpoint": "all",
                 "from": clock.label(start * MINUTE),
                 "to": clock.label(min((start + per_hour) * MINUTE, clock.duration)),
                 "value": round(rate, 5), "limit": limit, "over_by": violation.over_by,
                 **_minutes_over(result, hour, minute_rate > limit)}
        if "minutes" in entry:
            burst = np.zeros(len(errors), dtype=bool)
            burst[window] = minute_rate[window] > limit
            calm = ~burst
            calm[:window.start] = calm[window.stop:] = False
            entry["failed_in_burst"] = round(float(errors[burst].sum())
                                             / len(result.observations))
            entry["rest_of_hour"] = round(float(errors[calm].sum() / requests[calm].sum()), 5) \
                if requests[calm].sum() else 0.0
        found.append(entry)
    return found


def merge_breaches(violations: list[dict]) -> list[dict]:
    """The verdict's rows: runs of consecutive intervals with the same breach as one row, then
    a latency breach over several endpoints in one window as one row."""
    runs: list[dict] = []
    for v in violations:
        last = next((r for r in reversed(runs) if r["metric"] == v["metric"]
                     and r["endpoints"] == [v["endpoint"]]), None)
        if last is not None and v["from"] and last["to"] == v["from"]:
            _extend(last, v)
        else:
            runs.append(_start(v))
    merged: list[dict] = []
    for r in runs:
        twin = next((m for m in merged if m["metric"] == r["metric"] == "latency_p99"
                     and (m["from"], m["to"]) == (r["from"], r["to"])), None)
        if twin is None:
            merged.append(r)
        else:
            _join_endpoints(twin, r)
    for row in merged:
        row["text"] = breach_text(row)
    return _support_pairs(merged)


def _support_pairs(rows: list[dict]) -> list[dict]:
    """Service level and abandonment breached over the same window: one row, both figures."""
    out: list[dict] = []
    for row in rows:
        twin = next((r for r in out if r["metric"] == "support_service_level"
                     and row["metric"] == "support_abandon_rate"
                     and (r["from"], r["to"]) == (row["from"], row["to"])), None)
        if twin is None:
            out.append(row)
        else:
            twin["abandonment"] = {k: row[k] for k in ("worst", "worst_at", "limit")}
            twin["text"] += "; abandonment" + row["text"].removeprefix("support abandonment")
    return out


def _value(v: dict) -> float:
    return v["value_ms"] if v["metric"] == "latency_p99" else v["value"]


def _start(v: dict) -> dict:
    row = {"metric": v["metric"], "endpoints": [v["endpoint"]], "from": v["from"], "to": v["to"],
           "intervals": 1, "worst": _value(v), "worst_endpoint": v["endpoint"],
           "worst_at": v["from"],
           "limit": v["limit_ms"] if v["metric"] == "latency_p99" else v["limit"],
           "limits": {v["endpoint"]: v.get("limit_ms", v.get("limit"))},
           "minutes_over": v.get("minutes_over"), "minutes": list(v.get("minutes", []))}
    for key in ("rest_of_hour", "failed_in_burst"):
        if key in v:
            row[key] = v[key]
    return row


def _worse(metric: str, a: float, b: float) -> bool:
    return a < b if metric in FLOORS else a > b


def _extend(row: dict, v: dict) -> None:
    row["to"] = v["to"]
    row["intervals"] += 1
    if _worse(row["metric"], _value(v), row["worst"]):
        row["worst"], row["worst_at"] = _value(v), v["from"]
    if row["minutes_over"] is not None and v.get("minutes_over") is not None:
        row["minutes_over"] += v["minutes_over"]
        row["minutes"] += v.get("minutes", [])
        if row["minutes_over"] > BURST_MINUTES:
            row["minutes"] = []
    for key in ("rest_of_hour", "failed_in_burst"):
        row.pop(key, None)  # a figure of one hour; a longer breach is not a burst


def _join_endpoints(row: dict, other: dict) -> None:
    row["endpoints"] += other["endpoints"]
    row["limits"].update(other["limits"])
    if other["worst"] / other["limit"] > row["worst"] / row["limit"]:
        for key in ("worst", "worst_endpoint", "worst_at", "limit"):
            row[key] = other[key]
    if row["minutes_over"] is not None and other["minutes_over"] is not None:
        minutes = sorted(set(row["minutes"]) | set(other["minutes"]))
        row["minutes"] = minutes if len(minutes) <= BURST_MINUTES else []
        row["minutes_over"] = max(row["minutes_over"], other["minutes_over"])
        if not row["minutes"]:
            row["minutes_over"] = max(row["minutes_over"], BURST_MINUTES + 1)
