"""Replications -> the results contract: ``summary.json`` figures and the minute series.

Pure functions of a :class:`~sim.run.RunResult`. A figure is a plain number for one
replication and ``{"mean": m, "ci95": [lo, hi]}`` for several. The interval is at the
scenario's ``sizing.confidence`` (95% unless it says otherwise), the level ``summary.json``
states as ``confidence``: the key keeps its historical name, as in the sizing plan, so readers
of older folders keep working. Numbers are rounded to six significant digits so that files are
readable and byte-identical for one seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from .findings import business_findings
from .metrics import Histogram
from .model.customers import LOST_CAUSES
from .model.observer import MINUTE, Observation
from .run import RunResult, mean_ci
from .scenario.schema import ENDPOINTS
from .sections import (
    flash_sale_section,
    hourly_section,
    inventory_section,
    payments_section,
    support_rates,
    support_section,
)
from .slo import evaluate

Figure = float | dict[str, object] | None


def tidy(value: float) -> float | None:
    """Six significant digits; NaN and infinities become null (valid JSON)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def figure(values: list[float], confidence: float) -> Figure:
    """One replication's number, or the mean over several with its ``confidence`` interval."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    if len(values) == 1:
        return tidy(finite[0])
    mean, low, high = mean_ci(finite, confidence)
    if min(finite) >= 0:
        low = max(low, 0.0)  # counts, times and rates cannot be negative
    return {"mean": tidy(mean), "ci95": [tidy(low), tidy(high)]}


Figurer = Callable[[list[float]], Figure]
""":func:`figure` at one run's confidence level."""


def _each(result: RunResult, figure: Figurer, pick: Callable[[Observation], float]) -> Figure:
    return figure([pick(obs) for obs in result.observations])


def _ratio(obs: Observation, numerator: str, denominator: str) -> float:
    total = obs.counters[denominator]
    return obs.counters[numerator] / total if total else 0.0


def _latency(result: RunResult, figure: Figurer,
             pick: Callable[[Observation], dict[str, Histogram]]) -> dict:
    section = {}
    for endpoint in (*ENDPOINTS, "all"):
        hists = [pick(obs).get(endpoint) for obs in result.observations]
        if not any(h is not None and h.count for h in hists):
            continue
        stats = [h.stats_ms() if h is not None else {} for h in hists]
        section[endpoint] = {key: figure([s.get(key, math.nan) for s in stats])
                             for key in ("mean", "p50", "p95", "p99")}
    return section


def replication_values(result: RunResult) -> dict[str, list[float | None]]:
    """Key figures per replication, in replication order, for ``peakday compare``: runs with
    one seed share random numbers replication by replication, so differences are paired."""
    observations = result.observations
    values: dict[str, list[float | None]] = {
        key: [tidy(o.counters[key]) for o in observations]
        for key in ("sessions", "orders", "gmv", "instance_hours")}
    values["lost_sales_value"] = [tidy(o.counters["lost_sales_value"]) for o in observations]
    values["error_rate"] = [tidy(_ratio(o, "errors", "requests")) for o in observations]
    values["peak_instances"] = [tidy(float(np.max(o.series["instances"], initial=0)))
                                for o in observations]
    for endpoint in ("all", "checkout", "pay"):
        hists = [o.latency.get(endpoint) for o in observations]
        if all(h is not None and h.count for h in hists):
            values[f"p99_ms_{endpoint}"] = [tidy(h.quantile(0.99) * 1000) for h in hists
                                            if h is not None]
    if "support" in observations[0].extra:
        first = math.ceil(result.scenario.clock.warmup / result.scenario.sizing.agents.per)
        rates = [support_rates(o.extra["support"]["intervals"], first) for o in observations]
        values["support_service_level"] = [tidy(r["service_level"]) for r in rates]
        values["support_abandon_rate"] = [tidy(r["abandon_rate"]) for r in rates]
    return values


def build_summary(result: RunResult, options: dict | None = None) -> dict:
    """The ``summary.json`` document; ``options`` records the ``--overlay``/``--set`` the run
    was made with (``{"overlays": [...], "set": [...]}``), so a plan can be told apart."""
    scenario = result.scenario
    fig = partial(figure, confidence=scenario.sizing.confidence)
    count = lambda key: _each(result, fig, lambda o: o.counters[key])  # noqa: E731
    series = lambda key, fn: _each(result, fig, lambda o: fn(o.series[key]))  # noqa: E731
    measured = [o.series["minute"] * MINUTE >= scenario.clock.warmup for o in result.observations]
    summary = {
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": result.seed,
        "replications": len(result.observations),
        "confidence": scenario.sizing.confidence,
        "options": {"overlays": list((options or {}).get("overlays", [])),
                    "set": list((options or {}).get("set", []))},
        "clock": {"start": scenario.clock.start.isoformat(), "duration_s": scenario.clock.duration,
                  "warmup_s": scenario.clock.warmup},
        "sessions": count("sessions"),
        "requests": count("requests"),
        "orders": count("orders"),
        "gmv": count("gmv"),
        "retries": count("retries"),
        "discounts": count("discounts"),
        "net_gmv": _each(result, fig, lambda o: o.counters["gmv"] - o.counters["discounts"]),
        "lost_sales": {
            "count": count("lost_sales"), "value": count("lost_sales_value"),
            "by_cause": {cause: {"count": count(f"lost_{cause}"),
                                 "value": count(f"lost_{cause}_value")} for cause in LOST_CAUSES},
            "gave_up_by_stage": {stage: count(f"gave_up_{stage}")
                                 for stage in ("browse", "cart", "checkout", "pay")},
        },
        "latency_ms": _latency(result, fig, lambda o: o.latency),
        "error_rate": _each(result, fig, lambda o: _ratio(o, "errors", "requests")),
        "timeout_rate": _each(result, fig, lambda o: _ratio(o, "timeouts", "requests")),
        "shed_rate": _each(result, fig, lambda o: _ratio(o, "shed", "requests")),
        "platform": {
            "utilization": _each(result, fig, lambda o: _ratio(o, "busy_worker_seconds",
                                                               "capacity_worker_seconds")),
            "peak_utilization": fig([float(np.max(o.series["utilization"][m], initial=0))
                                     for o, m in zip(result.observations, measured,
                                                     strict=True)]),
            "peak_instances": series("instances", lambda s: float(np.max(s, initial=0))),
            "instance_hours": count("instance_hours"),
            "peak_requests_per_s": series("requests", lambda s: float(np.max(s, initial=0))
                                          / MINUTE),
            "mean_in_system": count("mean_in_system"),
        },
        "phases": {
            name: {"latency_ms": _latency(result, fig, lambda o, n=name: o.phase_latency[n])}  # type: ignore[misc]
            for name in scenario.traffic.phases
        },
        "conservation": {
            "requests_submitted": count("requests_submitted"),
            "requests_answered": count("requests"),
            "requests_unanswered_at_end": count("requests_unanswered_at_end"),
            "requests_in_server_at_end": count("requests_in_server_at_end"),
            "sessions_in_progress_at_end": _each(
                result, fig, lambda o: o.counters["sessions"] - o.counters["sessions_finished"]),
        },
        "inventory": inventory_section(result, fig),
        "flash_sales": flash_sale_section(result, fig),
        "coupons": {name: {key: fig([o.extra["coupons"][name][key]
                                     for o in result.observations])
                           for key in ("uses", "discount")}
                    for name in result.observations[0].extra["coupons"]},
        "payments": payments_section(result, fig),
        "support": support_section(result, fig),
        "hourly": hourly_section(result, fig),
        "per_replication": replication_values(result),
    }
    summary["slo"] = evaluate(result, summary)
    summary["findings"] = business_findings(summary, scenario)
    return summary


SERIES_COLUMNS = ("arrivals", "active_sessions", "requests", "p50_ms", "p99_ms", "errors",
                  "timeouts", "shed", "instances", "warming", "queue", "utilization",
                  "payment_failures", "support_queue", "agents", "abandoned")
BANDED = ("p99_ms", "utilization", "errors", "instances")
"""Columns that get confidence bands (``_lo``/``_hi``, at ``sizing.confidence``) when there are
several replications."""


def build_series(result: RunResult) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``timeseries.csv``: the mean over replications per minute."""
    scenario = result.scenario
    observations = result.observations
    present = [e for e in ENDPOINTS if e in scenario.platform.endpoints]
    stock = [c for c in observations[0].series if c.startswith("stock_")]
    columns = [*SERIES_COLUMNS, *stock, *(f"requests_{e}" for e in present),
               *(f"p99_ms_{e}" for e in present)]
    columns = [c for c in columns if c in observations[0].series]
    stacked = {c: np.vstack([o.series[c] for o in observations]) for c in columns}
    banded = [c for c in BANDED if c in stacked and len(observations) > 1]
    header = ["minute", "time", *columns, *(f"{c}_{end}" for c in banded for end in ("lo", "hi"))]
    rows = []
    minutes = len(observations[0].series["minute"])
    for m in range(minutes):
        stamp = scenario.clock.local(m * MINUTE).isoformat(timespec="minutes")
        row: list[object] = [m, stamp]
        row += [_cell(_nanmean(stacked[c][:, m])) for c in columns]
        for c in banded:
            values = stacked[c][:, m]
            finite = values[np.isfinite(values)]
            if len(finite) > 1:
                _, low, high = mean_ci(list(finite), scenario.sizing.confidence)
                row += [_cell(low), _cell(high)]
            else:
                row += ["", ""]
        rows.append(row)
    return header, rows


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _cell(value: float) -> object:
    tidied = tidy(value)
    if tidied is None:
        return ""
    return int(tidied) if tidied.is_integer() else tidied
