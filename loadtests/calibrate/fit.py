"""Fitting a model of the target to the profile's steps: demands, concurrency, outside time.

Three measurements, three unknowns (operational laws, no curve fitting):

- **Light-load latency** L_e per endpoint, from the lightest step, where nothing queues: a
  request's time is its service demand plus the time it spends outside the server (client,
  network), L_e = D_e + o.
- **The service demand law** D = U / X, summed over the unsaturated steps: the target's CPU
  seconds divided by the requests it completed is the mean demand D. It splits the light
  latency into demand and outside time: o = L - D (request-weighted means), D_e = L_e - o.
  Without a CPU figure the outside time is taken as zero (demands are then upper bounds).
- **Throughput at saturation** X_sat, the most the journey's steps completed (the ramp
  stops at its first saturated step): the effective concurrency is c = X_sat x D
  (utilization law at U = c). The model needs whole workers, so ``workers`` = round(c).

Where the target exposes its time inside per route (probe.py), that splits the demand
between endpoints instead of latency: D_e = inside_e + the CPU per request no route's timer
saw (the HTTP server's own work). Light-load latency differences are mostly the client's
(a session's new connection makes home look three times product's cost on the reference
service), and noisy: product's share came out 0.19-0.60 ms in four calibrations.

What each endpoint costs the target at saturation is then fitted to the saturated steps (the
ceiling step and, with ``--probes``, the mix probes', profile.py): in a step that keeps every
worker busy the utilization law reads sum_e X_e D_e = workers, one equation per step; five
mixes make five independent equations for five demands, solved by non-negative least squares
(each row divided by the workers, so each step's misfit is a share of its capacity). This is
the time a request holds the target's bottleneck, whatever that is — a core it shares with
the load generator, the GIL, the event loop — not its CPU alone (on the reference service
about 1 ms of CPU per request, one request per 1.3-1.4 ms at most). The light-load split
cannot tell it: what differs between endpoints' light latencies (a session's new connection
on home, the client's own work) is not all demand.

The split scaled to capacity (D_e times workers / c, so the journey's saturation throughput
is the target's) is the fit's prior: a row PRIOR_WEIGHT x (D_e / prior_e
minus 1) per endpoint joins the least squares, so that a 30% departure from the prior weighs as
much as a 0.6% capacity misfit. With the five mixes the steps decide; without them (no
probes, a probe that did not saturate) the prior holds where the steps say nothing, and with
the ceiling step alone it is the fit (it already meets that step's law).

The demands are the ceiling's; what a request costs at other loads is :func:`cost_by_load`,
the steps' CPU per request as factors on the ceiling's (``drill.demand_by_load``).

Each endpoint's outside time is what its light latency leaves (o_e = L_e - D_e x the factor
at the light steps' load).

The spread of each demand is a lognormal whose cv matches the light steps' p95 / mean (capped
at an exponential's); spread.py then fits one shared spread to the waiting the target showed.

The load generator is measured too: each step's CPU seconds of the Locust process (its busy
share over the time it ran) per request it completed, by its throughput
(:func:`generator_cost`). A drill's prediction says from it how busy the drill's processes
will be (compare.py): near its core a generator measures itself as well as the target (on the
reference service at 90% of the ceiling a lone client saw the target answer in 4.2 ms at p95
while the drill's own requests took 12.7).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import nnls

from sim.scenario.schema import ENDPOINTS, factor_at

from .profile import JOURNEY
from .steps import CalibrationError, StepResult

Z95 = 1.6448536269514722
"""The standard normal 95th percentile."""
FIRST = "home"
"""Every calibration session starts here."""
LIGHT = 0.3
"""Unsaturated steps under this share of the top throughput count as light load."""
SPLIT = 0.6
"""Unsaturated steps under this share of the top throughput split the demand by time inside."""
MAX_CV = 1.0
"""The spread of a demand is capped at an exponential's."""
MIN_LIGHT_REQUESTS = 10
"""Requests an endpoint needs in the lightest step to have its own demand measured."""
PRIOR_WEIGHT = 0.02
"""Weight of the light-load split against the saturated steps' utilization law (see above)."""
MIN_RELATIVE = 0.1
"""The least demand the fit gives an endpoint, as a share of its light-load prior."""
MIN_CURVE_STEPS = 3
"""Unsaturated steps with a CPU figure the cost-by-load curve needs."""


@dataclass
class EndpointFit:
    demand_s: float
    cv: float
    outside_s: float
    """Mean time outside the server (client, network, waiting for a CPU) at light load."""
    outside_cv: float
    light_mean_ms: float | None
    light_requests: int
    measured: bool = True
    """False: too few requests; the request-weighted mean of the others is assumed."""


@dataclass
class Fit:
    endpoints: dict[str, EndpointFit]
    workers: int
    concurrency: float | None
    """c = X_sat x mean demand, before rounding to whole workers (None: never saturated)."""
    saturation_throughput: float | None
    cpu_demand_s: float | None
    """Mean CPU seconds per request from the target's metrics (None: not exposed)."""
    outside_s: float
    """Mean time outside the server at light load."""
    demand_by_load: dict[int, float] = field(default_factory=dict)
    """Requests/s -> the factor on every demand there (see :func:`cost_by_load`)."""
    generator_cpu_by_load: dict[int, float] = field(default_factory=dict)
    """Requests/s -> the load generator's CPU seconds per request there (see
    :func:`generator_cost`; {}: every step saturated, or none said how busy its generator
    was or how many requests it completed over its run — a folder from before either was
    recorded; folders from before 2026-11-26 counted the users' start and the write-up in
    the busy share, 5-8% more per request at the top steps)."""
    busy: list[dict] = field(default_factory=list)
    """Per saturated step: its mix, throughput, and the workers the fitted demands keep
    busy there as a share of all (1 where the fit meets the utilization law)."""
    waiting: list[dict] = field(default_factory=list)
    """Per step the shared spread was fitted to (spread.py): utilization, observed and
    predicted p95 (ms)."""
    queue_cv: float | None = None
    """The spread every endpoint's demand shares, fitted to the waiting (None: each its
    light-load spread)."""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def fit(steps: list[StepResult]) -> Fit:
    """The target's model from the profile's steps (the ramp lightest first, then probes)."""
    if not steps or not steps[0].requests:
        raise CalibrationError("no step completed a request: nothing to calibrate from")
    journey = [s for s in steps if s.mix == JOURNEY]
    light = _light(journey)
    latency = {e: f["mean_ms"] / 1000 for e, f in light.items()
               if f["requests"] >= MIN_LIGHT_REQUESTS}
    if not latency:
        raise CalibrationError(f"the lightest step measured fewer than {MIN_LIGHT_REQUESTS} "
                               "requests per endpoint: make the steps longer (--step)")
    counts = {e: light[e]["requests"] for e in latency}
    mean_light = _weighted(latency, counts)
    notes: list[str] = []
    unsaturated = [s for s in journey if not s.saturated and s.cpu_s is not None]
    paid_for = sum(s.completed or s.requests for s in unsaturated)
    cpu = sum(s.cpu_s or 0.0 for s in unsaturated) / paid_for if paid_for else None
    if cpu is None:
        notes.append("the target exposes no process_cpu_seconds_total: demands are light-load "
                     "latencies, time outside the server taken as 0")
        outside = 0.0
    else:
        outside = max(0.0, mean_light - cpu)
    demand = {e: max(latency[e] - outside, 0.1 * latency[e]) for e in latency}
    inside = _inside(journey, latency)
    if inside:
        # Time inside the server per route plus the CPU no route's timer sees (the HTTP
        # server's own parsing and connection work, the same for every request).
        common = max(0.0, cpu - _weighted(inside, counts)) if cpu is not None else 0.0
        demand = {e: inside[e] + common for e in latency}
    else:
        notes.append("the target exposes no per-route time (peakday_request_seconds): "
                     "demands split between endpoints by light-load latency")
    # A step whose load generator was busy to its limit is the most it could send: the
    # target's ceiling is at least that (said in a note), and the fit takes it as the ceiling.
    saturated = [s for s in journey if s.at_ceiling]
    bound = [s for s in steps if s.generator_bound]
    if bound:
        notes.append("the load generator was busy "
                     + ", ".join(f"{s.generator_busy:.0%} of a core in step {s.index}"
                                 for s in bound)
                     + ": those steps measured it as well as the target, and the ceiling is "
                     "at most what it could send (spread the load: --workers, or a generator "
                     "on other machines)")
    workers, concurrency, x_sat = 1, None, None
    busy: list[dict] = []
    if saturated:
        # The most the target completed in any step: the one just short of saturation may
        # complete more than the saturated one, whose unfinished sessions cost the load
        # generator CPU the target shares.
        step = max(journey, key=lambda s: s.throughput)
        x_sat = step.throughput
        mix = {e: step.endpoints.get(e, {}).get("requests", 0) for e in demand}
        concurrency = x_sat * _weighted(demand, mix if sum(mix.values()) else counts)
        workers = max(1, round(concurrency))
        demand = {e: d * workers / concurrency for e, d in demand.items()}
        full = [step, *(s for s in steps if s.saturated and s.mix != JOURNEY)]
        demand, busy = busy_fit(full, demand, workers)
        if len(full) < len(demand):
            notes.append(f"{len(full)} mix(es) saturated the target for {len(demand)} "
                         "endpoints: their demands lean on the light-load split (--probes "
                         "saturates four more mixes)")
    else:
        top = max(s.throughput for s in steps)
        notes.append(f"no step saturated the target (up to {top:.0f} requests/s): workers "
                     "assumed 1; calibrate with more steps or a higher first rate")
    curve = cost_by_load(journey, x_sat or max(s.throughput for s in journey))
    # The light steps' latency holds the demand at their load, not at the ceiling's.
    at_light = factor_at({float(x): f for x, f in curve.items()},
                         _median([s.throughput for s in _light_steps(journey)]))
    endpoints = {e: _endpoint(light[e], demand[e], outside, counts[e], at_light)
                 for e in demand}
    assumed = _weighted(demand, counts)
    # Every endpoint the steps did not measure gets the measured mean: the model may send
    # requests the drill does not (support tickets), and the scenario's production demand
    # for them (30 ms on flash-sale) would load the one measured worker with work the target
    # never did (12% of it in a drill at 90% of saturation).
    for e in ENDPOINTS:
        if e not in endpoints:
            seen = light.get(e, {})
            endpoints[e] = EndpointFit(
                assumed, _median([f.cv for f in endpoints.values()]), outside,
                _median([f.outside_cv for f in endpoints.values()]), seen.get("mean_ms"),
                seen.get("requests", 0), measured=False)
    return Fit(endpoints, workers, concurrency, x_sat, cpu, outside, curve,
               generator_cost(journey), busy, notes=notes)


def generator_cost(journey: list[StepResult]) -> dict[int, float]:
    """The load generator's CPU seconds per request across the ramp, at each step's
    throughput over the time it ran (the span its busy share covers).

    Per request, not one figure: the generator's fixed work (timers, its collector, reports)
    weighs on few requests at light load, and a busy loop shares each turn's wake-up between
    the answers it finds ready. A saturated step is left out: its unfinished sessions cost
    the generator CPU that no completed request paid for (calibration run 19: 0.37 ms per
    request at the saturated step against 0.27 at the one below it), and a drill never runs
    there."""
    points: dict[int, list[float]] = {}
    for s in journey:
        if s.generator_busy and s.completed and s.ran_s > 0 and not s.saturated:
            points.setdefault(round(s.completed / s.ran_s), []).append(
                s.generator_busy * s.ran_s / s.completed)
    return {x: round(_median(costs), 7) for x, costs in sorted(points.items()) if x > 0}


def cost_by_load(journey: list[StepResult], reference: float) -> dict[int, float]:
    """The target's CPU per request across the ramp, as factors on its cost at ``reference``
    requests/s (the ceiling the demands are scaled to), at each step's throughput.

    An event loop's cost per request falls as it gets busier (each turn's wake-up and system
    calls shared by the requests it finds ready): the reference service spent 1.2 ms at 160
    requests/s and 0.56 at 1,640, and a drill at half its ceiling cost 17% more per request
    than the demands fitted to the ceiling (README, calibration run 12). The curve is a power
    law fitted to the logs by least squares, each step weighted by its requests: a light
    step's CPU carries the idle-rate correction as noise (0.7-2.1 ms at 20 requests/s where its
    neighbours agree within 10%). {} without CPU figures or with under MIN_CURVE_STEPS steps."""
    points = [(s.throughput, s.cpu_s / (s.completed or s.requests), s.completed or s.requests)
              for s in journey
              if not s.saturated and s.cpu_s and (s.completed or s.requests) and s.throughput]
    if len(points) < MIN_CURVE_STEPS or reference <= 0:
        return {}
    loads, costs, weights = (np.array(column, dtype=float) for column in zip(*points, strict=True))
    slope = float(np.polyfit(np.log(loads), np.log(costs), 1, w=np.sqrt(weights))[0])
    return {x: round((x / reference) ** slope, 4)
            for x in sorted({round(x) for x in loads} | {round(reference)}) if x > 0}


def busy_fit(saturated: list[StepResult], prior: dict[str, float], workers: int
             ) -> tuple[dict[str, float], list[dict]]:
    """Demands that keep ``workers`` busy in every saturated step (the utilization law,
    sum_e X_e D_e = workers), by non-negative least squares with ``prior`` as a weak pull
    (see the module's note); and per step the share of the workers they keep busy."""
    names = list(prior)
    rates = np.array([[s.endpoints.get(e, {}).get("requests", 0) / s.requests * s.throughput
                       for e in names] for s in saturated])
    scale = np.array([prior[e] for e in names])
    # Unknowns are the demands relative to the prior (u_e = D_e / prior_e): every column and
    # every row of order 1, whatever the target's speed.
    system = np.vstack([rates * scale / workers, PRIOR_WEIGHT * np.eye(len(names))])
    wanted = np.concatenate([np.ones(len(saturated)), PRIOR_WEIGHT * np.ones(len(names))])
    relative, _ = nnls(system, wanted)
    # A demand the steps put at zero (a probe the load generator could not saturate) keeps a
    # tenth of its prior: the model needs a service time, and zero would be a wrong certainty.
    relative = np.maximum(relative, MIN_RELATIVE)
    demand = dict(zip(names, (relative * scale).tolist(), strict=True))
    kept = rates @ (relative * scale) / workers
    return demand, [{"step": s.index, "mix": s.mix, "throughput": round(s.throughput, 2),
                     "busy": round(float(b), 4)} for s, b in zip(saturated, kept, strict=True)]


def _light_steps(steps: list[StepResult]) -> list[StepResult]:
    """The light steps: the first, and the unsaturated ones under LIGHT of the top
    throughput."""
    top = max(s.throughput for s in steps)
    return [steps[0], *(s for s in steps[1:] if not s.saturated and s.throughput <= LIGHT * top)]


def _inside(steps: list[StepResult], latency: dict[str, float]) -> dict[str, float]:
    """Per endpoint, the seconds a request spends inside the server at light load, or {} when
    the target's metrics did not say for every one.

    The split between endpoints is the median over the unsaturated steps under SPLIT of the
    top throughput of each endpoint's time inside over the step's mean (rare endpoints have a
    handful of requests in a light step: more steps, steadier shares; contention inflates
    every route alike); the level is the least of those steps' means. A server idle between
    requests takes longer over each (woken, its caches cold): the reference service's time
    inside fell from 0.9 ms at 20 requests/s to 0.45 at 620 as its loop stayed busy, and a
    light-load level made its one event loop look like two workers at the ceiling. Higher,
    a request may wait inside for a worker: the least mean is the service. An endpoint whose
    time inside passes its latency waited inside for something the drill's figure leaves out
    (the reference service's pay waits for the payment provider, whose time the drill takes
    off its latency): its time inside is its latency less the others' time outside (median)."""
    top = max(s.throughput for s in steps)
    chosen = [s for s in steps if not s.saturated and s.throughput <= SPLIT * top
              and all(e in s.server_ms and e in s.endpoints for e in latency)]
    if not chosen:
        return {}
    shares: dict[str, list[float]] = {e: [] for e in latency}
    levels = []
    for s in chosen:
        inside = _step_inside(s, list(latency))
        if not inside:
            continue
        n = {e: s.endpoints[e]["requests"] for e in inside}
        mean = _weighted(inside, n)
        for e, t in inside.items():
            shares[e].append(t / mean)
        levels.append(mean)
    if not levels:
        return {}
    level = min(levels)
    return {e: _median(ratios) * level for e, ratios in shares.items()}


def _step_inside(step: StepResult, endpoints: list[str]) -> dict[str, float]:
    """One step's time inside per endpoint (s), pay-like endpoints from their latency."""
    latency = {e: (step.endpoints[e]["mean_ms"] or 0.0) / 1000 for e in endpoints}
    inside = {e: step.server_ms[e] / 1000 for e in endpoints}
    plain = [latency[e] - t for e, t in inside.items() if t < latency[e]]
    if not plain:
        return {}
    away = _median(plain)
    return {e: t if t < latency[e] else max(latency[e] - away, 0.1 * latency[e])
            for e, t in inside.items()}


def _light(steps: list[StepResult]) -> dict[str, dict]:
    """Per endpoint, the light-load mean and p95 (ms): the median over the light steps, so one
    step that met a stalled machine does not set the model; requests summed. The server never
    saw a session's start lag: it is taken off the first request of each step; ``seen_*``
    keep the latencies as the drill counted them, lag and all (it counts every later
    request's waking late too): the time outside the server holds it, :func:`_endpoint`."""
    chosen = _light_steps(steps)
    figures: dict[str, dict] = {}
    for e in {e for s in chosen for e in s.endpoints}:
        seen = [(s.endpoints[e], s.start_lag_ms if e == FIRST else 0.0) for s in chosen
                if e in s.endpoints and s.endpoints[e]["mean_ms"]]
        if seen:
            figures[e] = {"mean_ms": _median([f["mean_ms"] - lag for f, lag in seen]),
                          "p95_ms": _median([(f["p95_ms"] or 0) - lag for f, lag in seen]),
                          "requests": sum(f["requests"] for f, _ in seen),
                          "seen_mean_ms": _median([f["mean_ms"] for f, _ in seen]),
                          "seen_p95_ms": _median([f["p95_ms"] or 0 for f, _ in seen])}
    return figures


def _weighted(values: dict[str, float], weights: dict[str, int]) -> float:
    total = sum(weights.get(k, 0) for k in values)
    if not total:
        return sum(values.values()) / len(values)
    return sum(v * weights.get(k, 0) for k, v in values.items()) / total


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.5


def _endpoint(figures: dict, demand: float, outside: float, requests: int,
              at_light: float = 1.0) -> EndpointFit:
    """One endpoint's fit: the light step's latency less the common outside time gives the
    service's spread (capped: beyond an exponential's, the tail is the machine's — a starved
    client, a scheduling hiccup — and would make the model queue for nothing); the latency
    less the demand at light load (``at_light`` x the demand), with the session's start lag
    on the first request, is this endpoint's time outside the server, with its own spread.
    (Without the lag, the model foresaw home's p95 at half the ceiling 37-40% under the
    drill's, every other endpoint within 16%: calibration run 16.)"""
    mean, p95 = figures["mean_ms"] / 1000, (figures["p95_ms"] or 0) / 1000
    seen_mean, seen_p95 = figures["seen_mean_ms"] / 1000, figures["seen_p95_ms"] / 1000
    light_demand = demand * at_light
    away = max(0.0, seen_mean - light_demand)
    return EndpointFit(demand, min(MAX_CV, _cv(mean - outside, p95 - outside)), away,
                       _cv(away, seen_p95 - light_demand), figures["mean_ms"], requests)


def _cv(mean: float, p95: float) -> float:
    """cv of the lognormal with this mean and 95th percentile (0 when it cannot have one)."""
    if mean <= 0 or p95 <= mean:
        return 0.0
    # p95 / mean = exp(Z95 sigma - sigma^2 / 2): the smaller root; capped at its maximum.
    log_ratio = min(math.log(p95 / mean), Z95 * Z95 / 2)
    sigma = Z95 - math.sqrt(Z95 * Z95 - 2 * log_ratio)
    return round(math.sqrt(math.expm1(sigma * sigma)), 3)
