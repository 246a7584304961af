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
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..metrics import Histogram
from ..model.customers import LOST_CAUSES, STAGES
from ..model.observer import MINUTE, Observation
from ..run import RunResult, mean_ci
from ..scenario.schema import ENDPOINTS
from .findings import business_findings
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


@dataclass(frozen=True)
class _Figures:
    """One run's figures over its replications, at its confidence level: what every section
    of the summary is read with."""

    result: RunResult
    figure: Figurer

    def each(self, pick: Callable[[Observation], float]) -> Figure:
        return self.figure([pick(obs) for obs in self.result.observations])

    def count(self, key: str) -> Figure:
        return self.each(lambda o: o.counters[key])

    def ratio(self, numerator: str, denominator: str) -> Figure:
        return self.each(lambda o: _ratio(o, numerator, denominator))

    def peak(self, column: str, per: float = 1.0) -> Figure:
        """The largest value of a minute series (over the whole run), divided by ``per``."""
        return self.each(lambda o: float(np.max(o.series[column], initial=0)) / per)

    def latency(self, pick: Callable[[Observation], dict[str, Histogram]]) -> dict:
        """mean/p50/p95/p99 (ms) of each endpoint some replication measured, and of all."""
        section = {}
        for endpoint in (*ENDPOINTS, "all"):
            hists = [pick(obs).get(endpoint) for obs in self.result.observations]
            if not any(h is not None and h.count for h in hists):
                continue
            stats = [h.stats_ms() if h is not None else {} for h in hists]
            section[endpoint] = {key: self.figure([s.get(key, math.nan) for s in stats])
                                 for key in ("mean", "p50", "p95", "p99")}
        return section


def _ratio(obs: Observation, numerator: str, denominator: str) -> float:
    total = obs.counters[denominator]
    return obs.counters[numerator] / total if total else 0.0


def replication_values(result: RunResult) -> dict[str, list[float | None]]:
    """Key figures per replication, in replication order, for ``peakday compare``: runs with
    one seed share random numbers replication by replication, so differences are paired."""
    observations = result.observations
    values: dict[str, list[float | None]] = {
        key: [tidy(o.counters[key]) for o in observations]
        for key in ("sessions", "orders", "gmv", "instance_hours")}
    values["lost_sales_value"] = [tidy(o.losses.value) for o in observations]
    values["error_rate"] = [tidy(_ratio(o, "errors", "requests")) for o in observations]
    values["peak_instances"] = [tidy(float(np.max(o.series["instances"], initial=0)))
                                for o in observations]
    for endpoint in ("all", "checkout", "pay"):
        hists = [o.latency.get(endpoint) for o in observations]
        if all(h is not None and h.count for h in hists):
            values[f"p99_ms_{endpoint}"] = [tidy(h.quantile(0.99) * 1000) for h in hists
                                            if h is not None]
    support = [o.parts.support for o in observations if o.parts.support is not None]
    if support:
        first = math.ceil(result.scenario.clock.warmup / result.scenario.sizing.agents.per)
        rates = [support_rates(s.intervals, first) for s in support]
        values["support_service_level"] = [tidy(r["service_level"]) for r in rates]
        values["support_abandon_rate"] = [tidy(r["abandon_rate"]) for r in rates]
    return values


def build_summary(result: RunResult, options: dict | None = None) -> dict:
    """The ``summary.json`` document; ``options`` records the ``--overlay``/``--set`` the run
    was made with (``{"overlays": [...], "set": [...]}``), so a plan can be told apart."""
    scenario = result.scenario
    figures = _Figures(result, partial(figure, confidence=scenario.sizing.confidence))
    fig = figures.figure
    summary = {
        **_header(result, options),
        **_business(figures),
        "latency_ms": figures.latency(lambda o: o.latency),
        "error_rate": figures.ratio("errors", "requests"),
        "timeout_rate": figures.ratio("timeouts", "requests"),
        "shed_rate": figures.ratio("shed", "requests"),
        "platform": _platform(figures),
        "phases": {
            name: {"latency_ms": figures.latency(lambda o, n=name: o.phase_latency[n])}  # type: ignore[misc]
            for name in scenario.traffic.phases
        },
        "conservation": _conservation(figures),
        "inventory": inventory_section(result, fig),
        "flash_sales": flash_sale_section(result, fig),
        "coupons": _coupons(figures),
        "payments": payments_section(result, fig),
        "support": support_section(result, fig),
        "hourly": hourly_section(result, fig),
        "per_replication": replication_values(result),
    }
    summary["slo"] = evaluate(result, summary)
    summary["findings"] = business_findings(summary, scenario)
    return summary


def _header(result: RunResult, options: dict | None) -> dict:
    """What was run: scenario, seed, replications, confidence level, options and clock."""
    scenario = result.scenario
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": result.seed,
        "replications": len(result.observations),
        "confidence": scenario.sizing.confidence,
        "options": {"overlays": list((options or {}).get("overlays", [])),
                    "set": list((options or {}).get("set", []))},
        "clock": {"start": scenario.clock.start.isoformat(), "duration_s": scenario.clock.duration,
                  "warmup_s": scenario.clock.warmup},
    }


def _business(figures: _Figures) -> dict:
    """Sessions, orders and money, and the sales lost (by cause, and where shoppers gave up)."""
    count = figures.count
    return {
        "sessions": count("sessions"),
        "requests": count("requests"),
        "orders": count("orders"),
        "gmv": count("gmv"),
        "retries": count("retries"),
        "discounts": count("discounts"),
        "net_gmv": figures.each(lambda o: o.counters["gmv"] - o.counters["discounts"]),
        "lost_sales": _lost_sales(figures),
    }


def _lost_sales(figures: _Figures) -> dict:
    """Sales lost: in all, by cause, and where shoppers gave up after platform errors."""
    fig = figures.figure
    losses = [o.losses for o in figures.result.observations]
    return {
        "count": fig([lost.count for lost in losses]),
        "value": fig([lost.value for lost in losses]),
        "by_cause": {cause: {"count": fig([lost.by_cause[cause].count for lost in losses]),
                             "value": fig([lost.by_cause[cause].value for lost in losses])}
                     for cause in LOST_CAUSES},
        "gave_up_by_stage": {stage: fig([lost.gave_up[stage] for lost in losses])
                             for stage in STAGES},
    }


def _coupons(figures: _Figures) -> dict:
    """Each coupon's uses and the discount it gave."""
    fig = figures.figure
    observations = figures.result.observations
    return {name: {"uses": fig([o.parts.coupons[name].uses for o in observations]),
                   "discount": fig([o.parts.coupons[name].discount for o in observations])}
            for name in observations[0].parts.coupons}


def _platform(figures: _Figures) -> dict:
    """How busy the servers were; peak utilization over measured minutes only (after the
    warm-up), the other peaks over the whole run."""
    result = figures.result
    warmup = result.scenario.clock.warmup
    return {
        "utilization": figures.ratio("busy_worker_seconds", "capacity_worker_seconds"),
        "peak_utilization": figures.figure([
            float(np.max(o.series["utilization"][o.series["minute"] * MINUTE >= warmup],
                         initial=0)) for o in result.observations]),
        "peak_instances": figures.peak("instances"),
        "instance_hours": figures.count("instance_hours"),
        "peak_requests_per_s": figures.peak("requests", per=MINUTE),
        "mean_in_system": figures.count("mean_in_system"),
    }


def _conservation(figures: _Figures) -> dict:
    """Every request submitted is answered or still in the system at the end."""
    return {
        "requests_submitted": figures.count("requests_submitted"),
        "requests_answered": figures.count("requests"),
        "requests_unanswered_at_end": figures.count("requests_unanswered_at_end"),
        "requests_in_server_at_end": figures.count("requests_in_server_at_end"),
        "sessions_in_progress_at_end": figures.each(
            lambda o: o.counters["sessions"] - o.counters["sessions_finished"]),
    }


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
