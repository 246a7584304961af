"""What a drill measures, in HDR histograms, mergeable across Locust workers.

Every request is recorded twice: its plain response time, and its time from the moment it
*should* have started (the schedule's start for a session's first request, the end of the
previous response plus the think time for the others). When the load generator falls behind,
the second one keeps the delay in the figures instead of hiding it (coordinated omission);
percentiles and thresholds use it. Histograms keep 2 significant digits: percentiles within
1%.

A worker's recorder is serialised (:meth:`Recorder.snapshot`) and sent to the master, which
merges the snapshots; a local drill uses one recorder directly. No Locust import here.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hdrh.histogram import HdrHistogram

from sim.behaviour.slo import judge, limit_for
from sim.scenario.schema import DRILL_WINDOW, Scenario

from .schedule import Plan

LOWEST, HIGHEST, DIGITS = 1, 120_000_000, 2
"""Microseconds from 1 us to 120 s, 2 significant digits (1% precision)."""
OUTCOMES = ("ok", "error", "sold_out", "limit_exceeded", "declined", "expired", "redirect",
            "redirect_refused")
FAILED = ("error", "redirect", "redirect_refused")
"""Outcomes counted as errors: no answer or a 5xx; a 3xx not followed (the endpoint did not
answer what the journey needs); a redirect to a host off the allow-list (never sent)."""


def _histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST, HIGHEST, DIGITS)


def _us(seconds: float) -> int:
    return max(LOWEST, min(HIGHEST, int(seconds * 1_000_000)))


@dataclass
class Recorder:
    """Measurements of one process of a drill."""

    corrected: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(_histogram))
    """Per endpoint (and per ``phase/endpoint``): from the intended start."""
    raw: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(_histogram))
    """Per endpoint: the plain response time."""
    lag: HdrHistogram = field(default_factory=_histogram)
    """Start lag of sessions: actual start - scheduled start."""
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """``endpoint/outcome`` -> count."""
    started: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    """Fidelity window -> sessions started in it (by actual start)."""
    by_window: dict[int, HdrHistogram] = field(default_factory=lambda: defaultdict(_histogram))
    """Fidelity window -> every endpoint's latency (corrected) of the requests due in it: a
    drill's p95 is one figure over minutes, and whether it came from a steady queue or from a
    few bad seconds decides what to do about it."""
    generator_busy: dict[int, float] = field(default_factory=dict)
    """Fidelity window -> this process's share of a core in it (merged: the busiest
    process's), measured by its DrillState."""
    late: int = 0
    """Sessions that started more than a second after their time (every user was busy)."""
    sold_out_at: dict[str, float] = field(default_factory=dict)
    """SKU -> real seconds after time zero of the first 'sold out' a shopper saw."""
    paid: int = 0
    tickets: int = 0
    redirects: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Origin (scheme://host:port) a redirect pointed to -> requests that ended with it (not
    followed, or refused as off the allow-list)."""

    def session_started(self, scheduled: float, actual: float) -> None:
        lag = max(0.0, actual - scheduled)
        self.lag.record_value(_us(lag))
        self.started[int(actual // DRILL_WINDOW)] += 1
        if lag > 1.0:
            self.late += 1

    def request(self, endpoint: str, phase: str | None, intended: float, sent: float,
                done: float, outcome: str, due_s: float) -> None:
        """One answer; ``due_s``: its intended start in seconds after time zero."""
        corrected = _us(done - intended)
        self.corrected[endpoint].record_value(corrected)
        self.by_window[int(due_s // DRILL_WINDOW)].record_value(corrected)
        if phase:
            self.corrected[f"{phase}/{endpoint}"].record_value(corrected)
        self.raw[endpoint].record_value(_us(done - sent))
        self.outcomes[f"{endpoint}/{outcome}"] += 1

    def redirected(self, target: str) -> None:
        parts = urlsplit(target)
        self.redirects[f"{parts.scheme}://{parts.netloc}"] += 1

    def saw_sold_out(self, sku: str, at: float) -> None:
        if sku not in self.sold_out_at or at < self.sold_out_at[sku]:
            self.sold_out_at[sku] = at

    # -- crossing process boundaries -------------------------------------------------------
    def snapshot(self) -> dict:
        def encode(h: HdrHistogram) -> str:
            return base64.b64encode(h.encode()).decode()

        return {
            "corrected": {k: encode(h) for k, h in self.corrected.items()},
            "raw": {k: encode(h) for k, h in self.raw.items()},
            "lag": encode(self.lag),
            "outcomes": dict(self.outcomes),
            "started": {str(k): v for k, v in self.started.items()},
            "by_window": {str(k): encode(h) for k, h in self.by_window.items()},
            "generator_busy": {str(k): v for k, v in self.generator_busy.items()},
            "late": self.late,
            "sold_out_at": dict(self.sold_out_at),
            "paid": self.paid,
            "tickets": self.tickets,
            "redirects": dict(self.redirects),
        }

    def merge(self, snapshot: dict) -> None:
        def decode(text: str) -> HdrHistogram:
            return HdrHistogram.decode(base64.b64decode(text))

        for key, text in snapshot["corrected"].items():
            self.corrected[key].add(decode(text))
        for key, text in snapshot["raw"].items():
            self.raw[key].add(decode(text))
        self.lag.add(decode(snapshot["lag"]))
        for key, n in snapshot["outcomes"].items():
            self.outcomes[key] += n
        for key, n in snapshot["started"].items():
            self.started[int(key)] += n
        for key, text in snapshot["by_window"].items():
            self.by_window[int(key)].add(decode(text))
        for key, share in snapshot["generator_busy"].items():
            self.generator_busy[int(key)] = max(share, self.generator_busy.get(int(key), 0.0))
        self.late += snapshot["late"]
        for sku, at in snapshot["sold_out_at"].items():
            self.saw_sold_out(sku, at)
        self.paid += snapshot["paid"]
        self.tickets += snapshot["tickets"]
        for origin, n in snapshot["redirects"].items():
            self.redirects[origin] += n


def _ms(h: HdrHistogram, percentile: float) -> float | None:
    if h.get_total_count() == 0:
        return None
    return round(h.get_value_at_percentile(percentile) / 1000, 2)


def _latency(h: HdrHistogram, raw: HdrHistogram | None = None) -> dict:
    count = h.get_total_count()
    figures = {"count": count,
               "mean_ms": round(h.get_mean_value() / 1000, 3) if count else None,
               "p50_ms": _ms(h, 50), "p95_ms": _ms(h, 95),
               "p99_ms": _ms(h, 99), "max_ms": _ms(h, 100)}
    if raw is not None:
        figures["p99_uncorrected_ms"] = _ms(raw, 99)
    return figures


def summarize(recorder: Recorder, plan: Plan, scenario: Scenario, real_duration: float
              ) -> dict:
    """The measured part of ``drill.json``: fidelity, latency, outcomes, thresholds."""
    clock = scenario.clock
    scheduled: dict[int, int] = defaultdict(int)
    for visit in plan.visits:
        if visit.start < real_duration:
            scheduled[int(visit.start // DRILL_WINDOW)] += 1
    windows = []
    worst = 0.0
    for w in sorted(scheduled):
        n, started = scheduled[w], recorder.started.get(w, 0)
        error = abs(started - n) / n
        latency = recorder.by_window.get(w)
        windows.append({"from_s": w * DRILL_WINDOW, "scheduled": n, "started": started,
                        "relative_error": round(error, 4),
                        "requests": latency.get_total_count() if latency else 0,
                        "p95_ms": _ms(latency, 95) if latency else None,
                        "generator_busy": recorder.generator_busy.get(w)})
        if w * DRILL_WINDOW >= DRILL_WINDOW:  # the first window holds the ramp-up
            worst = max(worst, error)
    endpoints = {}
    for endpoint in ("home", "product", "cart", "checkout", "pay", "support"):
        counts = {o: recorder.outcomes.get(f"{endpoint}/{o}", 0) for o in OUTCOMES}
        total = sum(counts.values())
        if not total:
            continue
        errors = sum(counts[o] for o in FAILED)
        endpoints[endpoint] = {
            "requests": total, "errors": errors,
            "error_rate": round(errors / total, 5),
            "outcomes": counts,
            **_latency(recorder.corrected[endpoint], recorder.raw[endpoint]),
        }
    phases: dict[str, dict] = {}
    for key, h in recorder.corrected.items():
        if "/" in key:
            phase, endpoint = key.split("/", 1)
            phases.setdefault(phase, {})[endpoint] = _latency(h)
    requests = sum(e["requests"] for e in endpoints.values())
    errors = sum(e["errors"] for e in endpoints.values())
    sold_out = {sku: {"after_s": round(at, 2),
                      "clock": clock.label(plan.clock_of(at), seconds=True)}
                for sku, at in recorder.sold_out_at.items()}
    started_total = sum(recorder.started.values())
    due = sum(scheduled.values())
    return {
        "sessions": {"scheduled": due, "started": started_total, "late": recorder.late,
                     "not_started": max(0, due - started_total)},
        "fidelity": round(worst, 4),
        "windows": windows,
        "start_lag_ms": {"mean": round(recorder.lag.get_mean_value() / 1000, 3)
                         if recorder.lag.get_total_count() else None,
                         "p50": _ms(recorder.lag, 50), "p99": _ms(recorder.lag, 99),
                         "max": _ms(recorder.lag, 100)},
        "arrival_rate": {"target_per_s": round(due / real_duration, 3) if real_duration else 0,
                         "achieved_per_s": round(started_total / real_duration, 3)
                         if real_duration else 0},
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 5) if requests else 0.0,
        "endpoints": endpoints,
        "phases": phases,
        "sold_out": sold_out,
        "redirects": {"follow": scenario.drill.follow_redirects,
                      "not_followed": dict(sorted(recorder.redirects.items()))},
        "orders_paid": recorder.paid,
        "support_tickets": recorder.tickets,
    }


def thresholds(scenario: Scenario, measured: dict) -> list[dict]:
    """Pass/fail of every SLO a drill can judge: p99 per endpoint and the error rate."""
    slo = scenario.slo
    if slo is None:
        return []
    checks = []
    for endpoint, figures in measured["endpoints"].items():
        limit = limit_for(slo, endpoint)
        if limit is None or figures["p99_ms"] is None:
            continue
        value = figures["p99_ms"]
        checks.append({"metric": "latency_p99", "endpoint": endpoint, "limit_ms": limit * 1000,
                       "value_ms": value,
                       "passed": judge("latency_p99", endpoint, value, limit * 1000) is None})
    if slo.error_rate < 1:
        rate = measured["error_rate"]
        checks.append({"metric": "error_rate", "endpoint": "all", "limit": slo.error_rate,
                       "value": rate,
                       "passed": judge("error_rate", "all", rate, slo.error_rate) is None})
    return checks
