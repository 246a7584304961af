"""The drill as the model sees it: a prediction of the drill as it ran, set beside the drill.

A drill replays the scenario's ``drill.window`` at ``scale`` of its rates, ``compress`` times
faster, against a target that works in real time. The prediction runs the model on exactly
that: the window alone (the model starts empty, as the drill's target does), the rates and
stock at ``scale``, the drill's seed, and the *target's* durations — service demands, lock
hold, reservation TTL, payment latency and timeouts, the client's timeout — stretched by
``compress`` onto the scenario's clock. Stretching the target onto the scenario's clock is
the same as compressing the shoppers into real time (rates x ``compress``, think times /
``compress``): a queue is unchanged when every duration in it is scaled alike, and this way
phases, flash sales and outages keep their clock times. The model's latencies are divided by
``compress`` back into real time, and the time a request spends outside the server (client,
network, waiting for a CPU: ``drill.outside_server``, a distribution measured by ``peakday
calibrate``) is drawn and added. A target whose cost per request depends on its load
(``drill.demand_by_load``, also measured by calibrate) has its demands taken at the drill's
own throughput. With a calibrated load generator (``drill.load_generator``, its CPU per request
by load) the prediction says how busy each of the drill's processes will be: a generator near
its core measures itself as well as the target.

The generator's wait is not added to the latencies. Drawn as M/M/1 at the process's busy
share, twice per request (its timer, its answer), it made the prediction of calibration run
19's drills at half the ceiling 12-59% high (without it: -21...+6%) and left those at 90%
22-78% low: the generator's delays come in episodes — at 90% its timers were 0.3 ms late at
the median while the process was 72-77% busy, 12-32 ms at p99, up to 222 ms — not as a
steady queue, and two identical drills there were 2.2-2.6x apart at p95 (README).

With the scenario's own production demands the prediction foresees a platform idling at 1% of
its traffic; with a calibrated target (``--overlay calibration.yaml``) it predicts the drill's
throughput and latency per endpoint and phase, which ``comparison.json`` sets beside the
observed figures, and the load curve (the same drill at other scales) that the report draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

import numpy as np

from ..behaviour.scaling import scaled
from ..metrics import Histogram
from ..model.day import simulate_day
from ..model.observer import MINUTE, Observation
from ..report.formatting import GENERATOR_BUSY
from ..scenario.distributions import Distribution, Scaled
from ..scenario.schema import ENDPOINTS, GENERATOR_LIMIT, Clock, Scenario
from ..scenario.units import DAY
from ..traffic import RateCurve

QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
CURVE_FACTORS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
"""Multiples of the drill's scale at which the report's load curve is predicted."""
ALL = "all"
OUTSIDE_DRAWS = 20_000
"""Draws for adding the outside time to a latency histogram (percentiles within ~1%)."""
OUTSIDE_SEED = 15
"""Fixed: the same prediction gives the same bytes."""
CPU_DRIFT = 0.10
"""How far the target's CPU per request may stray from the model's demand before the
comparison says so: the calibration's own repeatability goal (two calibrations within 10%)."""


def drill_model(scenario: Scenario, window: tuple[float, float],
                client_timeout: float | None = None, demand_factor: float = 1.0) -> Scenario:
    """The scenario the model runs to predict a drill of ``window`` (see the module's note).

    ``client_timeout`` is the drill client's own timeout in real seconds (None: it waits);
    ``demand_factor`` multiplies every endpoint's demand (``drill.demand_by_load``). Its clock
    runs on past the window for the drill's graceful stop, in which the sessions still walking
    go on (run it with :func:`simulate_window`, which ends the arrivals with the window): the
    drill counts their requests too. (A payment outage's edge inside the stop opens or closes
    in the model; the drill switches none after its window.)"""
    model = scaled(scenario)
    stretch = scenario.drill.compress
    w0, w1 = window
    clock = model.clock.model_copy(update={
        "start": model.clock.start + timedelta(seconds=w0),
        "duration": w1 - w0 + scenario.drill.graceful_stop * stretch, "warmup": 0.0})
    traffic = model.traffic
    if w0 > 0:
        traffic = traffic.model_copy(update={"sessions_per_min": _window_points(model, w0, w1)})
    platform = model.platform
    endpoints = {name: demand.model_copy(update={"service": _stretch(demand.service,
                                                                     stretch * demand_factor)})
                 for name, demand in platform.endpoints.items()}
    timeout = platform.admission.queue_timeout
    platform = platform.model_copy(update={
        "endpoints": endpoints,
        "admission": platform.admission.model_copy(
            update={"queue_timeout": None if timeout is None else timeout * stretch})})
    inventory = model.inventory.model_copy(update={
        "lock_hold": model.inventory.lock_hold * stretch,
        "reservation_ttl": model.inventory.reservation_ttl * stretch})
    payments = model.payments
    if payments is not None:
        channels = {name: channel.model_copy(update={"latency": _stretch(channel.latency,
                                                                         stretch)})
                    for name, channel in payments.channels.items()}
        payments = payments.model_copy(update={"channels": channels,
                                               "timeout": payments.timeout * stretch})
    customers = model.customers.model_copy(update={
        "client_timeout": None if client_timeout is None else client_timeout * stretch})
    return model.model_copy(update={"clock": clock, "traffic": traffic, "platform": platform,
                                    "inventory": inventory, "payments": payments,
                                    "customers": customers})


def simulate_window(model: Scenario, window: tuple[float, float], seed: int) -> Observation:
    """One run of a :func:`drill_model`: sessions arrive during the window only, as the
    drill's schedule starts them, and walk on through the graceful stop."""
    return simulate_day(model, np.random.SeedSequence(seed), arrivals_until=window[1] - window[0])


def _stretch(dist: Distribution, factor: float) -> Distribution:
    return dist if factor == 1 else Scaled(dist, factor)


def _window_points(model: Scenario, w0: float, w1: float) -> dict[float, float]:
    """The rate curve's points for a clock that starts at ``w0``: the rate at both ends of the
    window and every point inside it (points outside would wrap around the day)."""
    curve = RateCurve(model.traffic.sessions_per_min, model.clock)
    start = model.clock.start_time_of_day

    def tod(t: float) -> float:
        return (start + t) % DAY

    points = {tod(w0): float(curve.rate(w0)) * 60, tod(w1): float(curve.rate(w1)) * 60}
    for key, per_min in model.traffic.sessions_per_min.items():
        if w0 < model.clock.offset(key) < w1:
            points[key] = per_min
    return points


def phase_seconds(scenario: Scenario, window: tuple[float, float]) -> dict[str, float]:
    """Real seconds of the drill that each phase covers, counted as the model bins: by the
    minutes of its clock (which starts at the window) that start inside the phase."""
    clock, compress = scenario.clock, scenario.drill.compress
    w0, w1 = window
    starts = [w0 + m * MINUTE for m in range(math.ceil((w1 - w0) / MINUTE))]
    covered = {}
    for name, (start, end) in scenario.traffic.phases.items():
        span = clock.window(start, end)
        seconds = sum(min(MINUTE, w1 - t) for t in starts if Clock.inside(t, span))
        if seconds:
            covered[name] = seconds / compress
    return covered


def generator_busy(scenario: Scenario, throughput: float, processes: int = 1) -> float | None:
    """The share of a core each load-generating process spends when the drill sends
    ``throughput`` requests/s (real time) from ``processes`` processes, the load split evenly;
    None without a calibrated ``drill.load_generator``."""
    generator = scenario.drill.load_generator
    if generator is None:
        return None
    share = throughput / processes
    return share * generator.cpu_per_request(share) if share > 0 else 0.0


def _figures(hist: Histogram, seconds: float, compress: float,
             outside: Distribution | None) -> dict:
    """Requests, throughput and real-time percentiles of one histogram of the model's, with
    the time outside the server added (drawn, as it is a distribution: the sum's percentiles
    are not the sums of the percentiles)."""
    n = hist.count
    figures: dict[str, float | None] = {"requests": n, "throughput": n / seconds}
    if not n:
        return {**figures, **dict.fromkeys(QUANTILES)}
    if outside is None or outside.is_zero:
        for key, q in QUANTILES.items():
            figures[key] = hist.quantile(q) / compress * 1000
        return figures
    rng = np.random.default_rng(OUTSIDE_SEED)
    total = hist.draw(rng, OUTSIDE_DRAWS) / compress + outside.sample(rng, OUTSIDE_DRAWS)
    for key, q in QUANTILES.items():
        figures[key] = float(np.quantile(total, q)) * 1000
    return figures


def predict(scenario: Scenario, window: tuple[float, float], seed: int | None = None,
            client_timeout: float | None = None, processes: int = 1) -> dict:
    """What the model expects of the drill: per endpoint and phase, requests, throughput (per
    real second) and latency percentiles (real ms); sessions, error rate, sell-outs; the
    factor its demands were taken at; how busy each of its ``processes`` load-generating
    processes is, the load split evenly between them (None: no ``drill.load_generator``).

    With ``drill.demand_by_load`` the model runs twice: once to learn the drill's throughput
    in its window (below the ceiling it is the offered load, whatever the demands), then with
    every demand at that throughput's factor."""
    seed = scenario.seed if seed is None else seed
    real = (window[1] - window[0]) / scenario.drill.compress
    factor = 1.0
    if scenario.drill.demand_by_load:
        first = simulate_window(drill_model(scenario, window, client_timeout), window, seed)
        # The window's minutes only: the curve is read at the load the steps held (steady,
        # no graceful stop), not diluted by the stop's trickle.
        in_window = first.series["requests"][:math.ceil((window[1] - window[0]) / MINUTE)]
        factor = scenario.drill.demand_factor(float(in_window.sum()) / real)
    obs = simulate_window(drill_model(scenario, window, client_timeout, factor), window, seed)
    compress = scenario.drill.compress
    outside = scenario.drill.outside_server
    endpoints = {e: _figures(obs.latency[e], real, compress, outside.get(e))
                 for e in ENDPOINTS if e in obs.latency and obs.latency[e].count}
    phases = {}
    for name, seconds in phase_seconds(scenario, window).items():
        hists = obs.phase_latency.get(name, {})
        phases[name] = {e: _figures(hists[e], seconds, compress, outside.get(e))
                        for e in ENDPOINTS if e in hists and hists[e].count}
    sent = sum(figures["requests"] for e, figures in endpoints.items()
               if e in scenario.drill.endpoints)  # what the drill's processes send
    return {"endpoints": endpoints, "phases": phases, "demand_factor": factor,
            "generator_busy": generator_busy(scenario, sent / real, processes),
            **_totals(obs, compress)}


def _totals(obs: Observation, compress: float) -> dict:
    series = obs.series
    requests = float(series["requests"].sum())
    sold_out = {sku: figures.sold_out_at / compress
                for sku, figures in obs.parts.inventory.items()
                if figures.sold_out_at is not None}
    return {"sessions": float(series["arrivals"].sum()),
            "error_rate": float(series["errors"].sum()) / requests if requests else 0.0,
            "sold_out_after_s": sold_out}


def _row(figure: str, endpoint: str, phase: str, predicted: float | None,
         observed: float | None, requests: int | None = None) -> dict:
    error = (round((predicted - observed) / observed, 4)
             if predicted is not None and observed else None)
    row = {"figure": figure, "endpoint": endpoint, "phase": phase,
           "predicted": None if predicted is None else round(predicted, 4),
           "observed": observed, "relative_error": error}
    if requests is not None:
        row["requests"] = requests
    return row


def _endpoint_rows(predicted: dict, observed: dict, seconds: float, phase: str
                   ) -> Iterable[dict]:
    """Throughput and latency rows of one phase (or the whole drill) for every endpoint the
    drill measured."""
    for endpoint, seen in observed.items():
        mine = predicted.get(endpoint, {})
        count = seen.get("requests", seen.get("count", 0))
        yield _row("throughput", endpoint, phase, mine.get("throughput", 0.0),
                   round(count / seconds, 4), count)
        for key in QUANTILES:
            yield _row(f"latency {key[:3]}", endpoint, phase, mine.get(key), seen.get(key), count)


def compare(scenario: Scenario, drill: dict, window: tuple[float, float],
            seed: int | None = None, client_timeout: float | None = None,
            curve: bool = True, target_cpu_s: float | None = None) -> dict:
    """``comparison.json``: predicted vs observed per endpoint and phase — throughput, p50,
    p95, p99 — plus sessions, error rate and sell-outs, each with its relative error
    ((predicted - observed) / observed), and the predicted load curve for the report.

    ``target_cpu_s`` (the CPU seconds the target spent on the drill, from its /metrics) adds
    the CPU per request beside the model's demand: a queue's latency near its ceiling follows
    its demand steeply, so a latency miss with a demand miss beside it is the target's speed
    (or an uncalibrated model), not the queueing model."""
    seed = scenario.seed if seed is None else seed
    processes = max(1, drill.get("workers") or 1)
    predicted = predict(scenario, window, seed, client_timeout, processes)
    planned = drill.get("planned_duration_s") or (window[1] - window[0]) / scenario.drill.compress
    seconds = min(planned, drill.get("ran_s") or planned) or planned
    total = sum(e["requests"] for e in drill["endpoints"].values())
    rows = [_row("sessions", ALL, ALL, predicted["sessions"], drill["sessions"]["started"]),
            _row("error rate", ALL, ALL, predicted["error_rate"], drill["error_rate"], total),
            _row("throughput", ALL, ALL,
                 sum(e["throughput"] for e in predicted["endpoints"].values()),
                 round(total / seconds, 4), total)]
    rows += _endpoint_rows(predicted["endpoints"], drill["endpoints"], seconds, ALL)
    covered = phase_seconds(scenario, window)
    for phase, observed in drill.get("phases", {}).items():
        if phase in covered:
            rows += _endpoint_rows(predicted["phases"].get(phase, {}), observed,
                                   covered[phase], phase)
    for sku, after in predicted["sold_out_after_s"].items():
        seen = drill["sold_out"].get(sku)
        rows.append({**_row("sold out (s into the drill)", "checkout", ALL, after,
                            seen["after_s"] if seen else None), "sku": sku})
    notes = []
    busy = predicted["generator_busy"]
    if busy is not None:
        # Observed: the busiest process's share (drill.json); predicted: each one's, evenly.
        rows.append(_row(GENERATOR_BUSY, ALL, ALL, busy,
                         (drill.get("load_generator") or {}).get("busy"), total))
        if busy >= GENERATOR_LIMIT:
            notes.append(
                f"the model foresees each load-generating process busy {busy:.0%} of its core: "
                "near its limit it sends and reads late, and the drill's latencies are its own "
                "as much as the target's, which the prediction leaves out (spread the load: "
                "--workers, or a generator on other machines, calibrated there)")
    if target_cpu_s is not None and total:
        row = _row("CPU per request (ms)", ALL, ALL, _demand_ms(scenario, predicted),
                   round(target_cpu_s / total * 1000, 4), total)
        rows.append(row)
        if row["relative_error"] is not None and abs(row["relative_error"]) > CPU_DRIFT:
            notes.append(
                f"the target spent {row['observed']:.3g} ms of CPU per request where the model "
                f"assumes {row['predicted']:.3g} ms ({row['relative_error']:+.0%}): the latency "
                "predictions carry that difference. peakday calibrate measures the target as "
                "it runs now (again, if the machine's speed has changed since)")
    clock = scenario.clock
    document = {"scenario": scenario.name,
                "window": [clock.label(window[0]), clock.label(window[1])],
                "scale": scenario.drill.scale, "compress": scenario.drill.compress,
                "seed": seed, "rows": rows, "notes": notes,
                "note": "predicted: the model on the drill as it ran (window, scale, seed; the "
                        "target's demands stretched by compress); observed: drill.json; "
                        "relative_error = (predicted - observed) / observed"}
    if curve:
        document["curve"] = load_curve(scenario, window, seed, client_timeout,
                                       drilled=predicted)
    return document


def _demand_ms(scenario: Scenario, predicted: dict) -> float | None:
    """The model's service demand per request over the drill's predicted mix (real ms), at
    the drill's load."""
    endpoints = scenario.platform.endpoints
    paid = {e: f["requests"] for e, f in predicted["endpoints"].items() if e in endpoints}
    total = sum(paid.values())
    if not total:
        return None
    return (sum(n * endpoints[e].service.mean for e, n in paid.items()) / total * 1000
            * predicted["demand_factor"])


def load_curve(scenario: Scenario, window: tuple[float, float], seed: int,
               client_timeout: float | None = None,
               factors: Iterable[float] = CURVE_FACTORS, drilled: dict | None = None
               ) -> list[dict]:
    """The drill predicted at multiples of its scale: throughput and latency per endpoint,
    for a figure of observed points against the predicted curve across load. ``drilled`` is
    the prediction at the drill's own scale when the caller has it (the same seed gives the
    same prediction: not run again)."""
    points = []
    for factor in factors:
        drill = scenario.drill.model_copy(update={"scale": scenario.drill.scale * factor})
        at = (drilled if factor == 1 and drilled is not None else
              predict(scenario.model_copy(update={"drill": drill}), window, seed, client_timeout))
        points.append({"scale_factor": factor,
                       "throughput": sum(e["throughput"] for e in at["endpoints"].values()),
                       "endpoints": at["endpoints"]})
    return points
