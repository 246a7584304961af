"""The spread of the target's service, fitted to the waiting its requests showed.

The light steps measure each request's service and time outside, but not how long requests
wait for each other: that depends on how variable the service is as the target meets it. On
the reference service, which shares two cores with the load generator, requests at half the
ceiling waited 3-6x what M/M/1 with the measured demands says: the server is preempted for
milliseconds at a time (the load generator, other processes), and every request that arrives
meanwhile waits. A light-load spread (cv under 1) cannot show that, and a model with it
foresaw p95 about half the drill's.

So every endpoint's demand shares one cv, chosen on a grid: for each unsaturated step at
moderate load (WAITING of the ceiling: the ramp's, and the profile's spread steps at 40% of
it) the cv at which the calibrated model's p95 is the observed one (request-weighted over
endpoints), then the median over those steps — on a shared machine one step's p95 at half
load was three times another's, minutes apart. Past that load the two
processes, each near a core, contend for the machine's two, and the target's latency climbs
faster than any one queue with the measured ceiling does: the fit is for the load drills are
planned at, and calibration.json's residuals show the rest.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

from .fit import Fit
from .outputs import Source, overlay, overrides_of
from .profile import JOURNEY
from .steps import StepResult

WAITING = (0.3, 0.65)
"""Share of the ceiling at which a step's waiting sets the spread: below, the wait is within
the latency's noise; above, the machine's contention adds to it."""
GRID = tuple(0.25 * k for k in range(1, 17))
"""The cvs tried: up to 4 (a lognormal past it is mostly one long tail)."""
MIN_REQUESTS = 50
"""Requests an endpoint needs in a step to count in its p95."""


def tune(source: Source, steps: list[StepResult], result: Fit) -> Fit:
    """``result`` with the shared spread that makes the model's p95 the observed one at
    moderate load (unchanged when no step ran there or the target never saturated)."""
    ceiling = result.saturation_throughput
    if not ceiling:
        return result
    chosen = [s for s in steps if s.mix == JOURNEY and not s.saturated
              and WAITING[0] <= s.throughput / ceiling <= WAITING[1]]
    observed = {s.index: _p95(s.endpoints, {e: f["p95_ms"] for e, f in s.endpoints.items()})
                for s in chosen}
    chosen = [s for s in chosen if observed[s.index]]
    if not chosen:
        result.notes.append(f"no unsaturated step at {WAITING[0]:.0%}-{WAITING[1]:.0%} of the "
                            f"ceiling measured {MIN_REQUESTS} requests of an endpoint: each "
                            "demand keeps its light-load spread")
        return result
    # Per step, the model's p95 at every cv of the grid; each step's best cv; their median.
    curves: dict[int, dict[float, float]] = {s.index: {} for s in chosen}
    for cv in GRID:
        for fitted in result.endpoints.values():
            fitted.cv = cv
        calibrated = overrides_of(overlay(result))
        for s in chosen:
            curves[s.index][cv] = _p95(s.endpoints, {
                e: f["p95_ms"] for e, f in source.predict_step(
                    s.sessions_per_s, s.duration_s, calibrated, s.mix).items()}) or 1e-9
    best = {i: min(GRID, key=lambda cv: abs(math.log(curve[cv] / (observed[i] or 1.0))))
            for i, curve in curves.items()}
    cv = statistics.median_low(best.values())
    for fitted in result.endpoints.values():
        fitted.cv = cv
    result.queue_cv = cv
    result.waiting = [{"step": s.index, "utilization": round(s.throughput / ceiling, 3),
                       "p95_ms": observed[s.index], "best_cv": best[s.index],
                       "predicted_p95_ms": round(curves[s.index][cv], 3)} for s in chosen]
    return result


def _p95(seen: dict[str, dict], p95: Mapping[str, float | None]) -> float | None:
    """Request-weighted p95 (ms) over the endpoints with MIN_REQUESTS in ``seen``."""
    pairs = [(f["requests"], p95.get(e)) for e, f in seen.items()
             if f["requests"] >= MIN_REQUESTS and p95.get(e)]
    total = sum(n for n, _ in pairs)
    return round(sum(n * (p or 0.0) for n, p in pairs) / total, 3) if total else None
