"""The calibration fit on synthetic steps whose target is known exactly (no server): the
capacity-matching rule, the split by the target's per-route time, and the mix probes'
utilization law."""

from __future__ import annotations

from dataclasses import replace

import pytest

from loadtests.calibrate.fit import fit
from loadtests.calibrate.outputs import Source, overlay, overrides_of
from loadtests.calibrate.profile import JOURNEY, MIXES, between_rate, requests_per_session
from loadtests.calibrate.spread import WAITING, tune
from loadtests.calibrate.steps import StepResult
from sim.scenario import load_scenario

from .conftest import SCENARIOS

FLASH = SCENARIOS / "flash-sale.yaml"
NAMES = ("home", "product", "cart", "checkout", "pay")
DEMAND_S = {"home": 0.0020, "product": 0.0010, "cart": 0.0024, "checkout": 0.0040,
            "pay": 0.0030}
"""What a request holds the target's one worker for (mean 2.5 ms on the journey)."""
CPU_SHARE = 0.65
"""The target's CPU per request is this share of its demand (it never gets a whole core)."""
OUTSIDE_S = {"home": 0.0020, "product": 0.0005, "cart": 0.0005, "checkout": 0.0005,
             "pay": 0.0005}
"""Time outside the server at light load: home's is larger (a session's new connection), so
the light-load latencies alone would misplace demand between endpoints."""
PROVIDER_MS = 350.0
"""Pay's time inside the target includes the payment provider's answer, which the drill's
figure leaves out."""
STEP_S = 15.0


def counts(mix: str) -> dict[str, float]:
    """Requests per session of ``mix``, per endpoint (the synthetic journey: one of each)."""
    views, funnel = MIXES[mix] if mix != JOURNEY else (1, (1, 1, 1))
    return dict(zip(NAMES, (1.0, float(views), *map(float, funnel)), strict=True))


def step(index: int, mix: str, requests_per_s: float, saturated: bool,
         per_route: bool = False, cold: float = 1.0) -> StepResult:
    """A step as the target above answers it: light steps at their latencies, saturated
    ones at the throughput that keeps the worker busy; its time inside ``cold`` times the
    demand's (a server idle between requests, woken for each)."""
    per = counts(mix)
    share = {e: n / sum(per.values()) for e, n in per.items()}
    capacity = 1 / sum(share[e] * DEMAND_S[e] for e in NAMES)
    done = min(requests_per_s, capacity) if not saturated else capacity
    endpoints = {e: {"requests": round(share[e] * done * STEP_S), "errors": 0,
                     "mean_ms": (DEMAND_S[e] * CPU_SHARE * cold + OUTSIDE_S[e]) * 1000,
                     "p50_ms": 1.0,
                     "p95_ms": (DEMAND_S[e] * CPU_SHARE * cold + OUTSIDE_S[e]) * 2500,
                     "p99_ms": 10.0} for e in NAMES if share[e]}
    requests = sum(e["requests"] for e in endpoints.values())
    cpu = sum(e["requests"] * DEMAND_S[name] * CPU_SHARE for name, e in endpoints.items())
    return StepResult(index=index, sessions_per_s=requests_per_s / sum(per.values()),
                      duration_s=STEP_S, ran_s=STEP_S,
                      offered=round((2 * capacity if saturated else requests_per_s) * STEP_S),
                      requests=requests, errors=0, endpoints=endpoints,
                      cpu_s=None if saturated else cpu, stopped_because="schedule completed",
                      mix=mix, completed=requests,
                      server_ms={e: DEMAND_S[e] * CPU_SHARE * 1000 * cold
                                 + (PROVIDER_MS if e == "pay" else 0.0)
                                 for e in endpoints} if per_route else {})


def ramp(per_route: bool = False, cold: float = 1.0) -> list[StepResult]:
    """Four steps, the last saturated; the two lightest ``cold``."""
    return [step(1, JOURNEY, 20, False, per_route, cold),
            step(2, JOURNEY, 40, False, per_route, cold),
            step(3, JOURNEY, 100, False, per_route), step(4, JOURNEY, 800, True, per_route)]


def probes() -> list[StepResult]:
    return [step(5 + i, mix, 800, True) for i, mix in enumerate(MIXES)]


def journey_capacity() -> float:
    per = counts(JOURNEY)
    return sum(per.values()) / sum(n * DEMAND_S[e] for e, n in per.items())


def test_capacity_matches_the_saturation_throughput_without_probes():
    """With the journey alone, the demands are the light-load split scaled so that the
    model saturates where the target did: one worker (c = X_sat x CPU per request = 0.65),
    journey-weighted mean demand = 1 / X_sat."""
    result = fit(ramp())
    assert result.workers == 1
    assert result.concurrency == pytest.approx(CPU_SHARE, rel=0.02)
    assert result.saturation_throughput == pytest.approx(journey_capacity(), rel=0.01)
    per = counts(JOURNEY)
    mean = sum(n * result.endpoints[e].demand_s for e, n in per.items()) / sum(per.values())
    assert mean * result.saturation_throughput == pytest.approx(1.0, rel=0.01)
    assert [b["busy"] for b in result.busy] == [pytest.approx(1.0, rel=0.01)]
    assert any("lean on the light-load split" in note for note in result.notes)
    assert any("no per-route time" in note for note in result.notes)


def test_per_route_time_splits_the_demand_without_probes():
    """With the target's time inside per route, the ramp alone recovers every endpoint's
    demand: home's connection time stays outside, and pay's wait for the payment provider
    (inside the target, left out of the drill's figure) is not taken for demand."""
    result = fit(ramp(per_route=True))
    for endpoint, seconds in DEMAND_S.items():
        assert result.endpoints[endpoint].demand_s == pytest.approx(seconds, rel=0.03), endpoint
    assert result.endpoints["home"].outside_s > 2 * result.endpoints["product"].outside_s
    assert not any("no per-route time" in note for note in result.notes)


def test_the_sessions_start_lag_is_time_outside_not_demand():
    """The drill counts a session's start lag in its first request's latency: the fit keeps
    it out of home's demand and in home's time outside the server, which the prediction adds
    to every home request (without it home was foreseen 37-40% under the drill at half load)."""
    lag_ms = 0.7

    def late(s: StepResult) -> StepResult:
        home = s.endpoints["home"]
        return replace(s, start_lag_ms=lag_ms, endpoints={
            **s.endpoints, "home": {**home, "mean_ms": home["mean_ms"] + lag_ms,
                                    "p95_ms": home["p95_ms"] + lag_ms}})

    plain = fit(ramp(per_route=True))
    lagged = fit([late(s) for s in ramp(per_route=True)])
    for endpoint, seconds in DEMAND_S.items():
        assert lagged.endpoints[endpoint].demand_s == pytest.approx(seconds, rel=0.03), endpoint
    assert (lagged.endpoints["home"].outside_s - plain.endpoints["home"].outside_s
            == pytest.approx(lag_ms / 1000, rel=1e-6))
    assert lagged.endpoints["product"].outside_s == plain.endpoints["product"].outside_s


def test_time_inside_a_cold_server_is_not_taken_for_demand():
    """At the lightest loads the target's time inside is three times its service (idle between
    requests, woken for each: the reference service on its loop); the warmer step sets the
    level, so the demands and the one worker are recovered (the light steps' level made it
    two workers at the ceiling)."""
    result = fit(ramp(per_route=True, cold=3.0))
    assert result.workers == 1
    for endpoint, seconds in DEMAND_S.items():
        assert result.endpoints[endpoint].demand_s == pytest.approx(seconds, rel=0.03), endpoint


def test_a_step_the_load_generator_limited_is_the_ceiling_and_is_said():
    """The ramp ends where the generator reaches its limit, the target not yet saturated: the
    fit takes that step as the ceiling and says it is the generator's."""
    steps = [*ramp()[:3], replace(step(4, JOURNEY, 300, False), generator_busy=0.95)]
    result = fit(steps)
    assert result.saturation_throughput == pytest.approx(steps[-1].throughput)
    assert any("load generator was busy 95% of a core in step 4" in n for n in result.notes)
    assert not any("load generator" in n for n in fit(ramp()).notes)


def test_cost_falling_with_load_is_measured_and_reaches_the_overlay():
    """The target's CPU per request falls as a power of its load (an event loop sharing each
    turn's wake-up between the requests it finds ready): the fit recovers the factor at every
    step's load against the ceiling's, and the overlay carries it into the drill's model."""
    slope = -0.2
    ceiling = journey_capacity()

    def costly(s: StepResult) -> StepResult:
        return s if s.cpu_s is None else replace(
            s, cpu_s=s.cpu_s * (s.throughput / ceiling) ** slope)

    steps = [costly(step(i + 1, JOURNEY, rate, False)) for i, rate in enumerate((20, 40, 100,
                                                                               200, 300))]
    result = fit([*steps, step(6, JOURNEY, 800, True)])
    assert result.saturation_throughput == pytest.approx(ceiling, rel=0.01)
    assert set(result.demand_by_load) >= {round(s.throughput) for s in steps}
    for load, factor in result.demand_by_load.items():
        assert factor == pytest.approx((load / result.saturation_throughput) ** slope,
                                       rel=0.01), load
    calibrated = load_scenario(FLASH, overrides_of(overlay(result)))
    assert calibrated.drill.demand_factor(100) == pytest.approx(
        (100 / result.saturation_throughput) ** slope, rel=0.01)
    assert fit(ramp()).demand_by_load == pytest.approx(
        dict.fromkeys(fit(ramp()).demand_by_load, 1.0)), "a flat cost: factors of 1"
    no_cpu = [replace(s, cpu_s=None) for s in ramp()]
    assert fit(no_cpu).demand_by_load == {}


def test_the_load_generators_cost_per_request_is_measured_and_reaches_the_overlay():
    """A generator with fixed work (5 ms of its core a second: timers, its collector) and
    0.3 ms per request: its busy share over each step's run, per request it completed, is
    measured at each step's load (the saturated step's left out: its unfinished sessions
    cost CPU no completed request paid for), and the overlay hands it to the drill's model.
    Steps that did not say how busy their generator was (an older calibration folder):
    none."""
    fixed, per_request = 0.005, 0.0003
    steps = [replace(s, generator_busy=fixed + per_request * s.completed / s.ran_s)
             for s in ramp()]
    result = fit(steps)
    assert set(result.generator_cpu_by_load) == {round(s.completed / s.ran_s) for s in steps
                                                 if not s.saturated}
    for load, cost in result.generator_cpu_by_load.items():
        assert cost == pytest.approx(per_request + fixed / load, rel=0.01), load
    calibrated = load_scenario(FLASH, overrides_of(overlay(result)))
    generator = calibrated.drill.load_generator
    assert generator is not None
    assert generator.cpu_per_request(100) == pytest.approx(per_request + fixed / 100, rel=0.05)
    assert fit(ramp()).generator_cpu_by_load == {}
    assert "load_generator" not in overlay(fit(ramp()))["drill"]


def test_mix_probes_recover_each_endpoints_demand():
    """Five saturated mixes pin every endpoint's demand (the light-load split alone puts
    home's connection time into its demand and product's into nothing)."""
    light_only = fit(ramp())
    assert light_only.endpoints["home"].demand_s > 1.2 * DEMAND_S["home"]
    result = fit(ramp() + probes())
    for endpoint, seconds in DEMAND_S.items():
        assert result.endpoints[endpoint].demand_s == pytest.approx(seconds, rel=0.03), endpoint
    assert all(b["busy"] == pytest.approx(1.0, abs=0.02) for b in result.busy)
    assert not any("lean on" in note for note in result.notes)


def test_calibrated_model_saturates_where_the_target_did():
    """The overlay in the model: a step of the scenario's journeys offered twice their
    ceiling completes what one worker with the target's demands can (the scenario's own
    stock-lock hold is not added to the measured checkout, which already holds the target's
    stock change)."""
    result = fit(ramp() + probes())
    scenario = load_scenario(FLASH)
    source = Source(FLASH, [], [], scenario, scenario.seed)
    calibrated = overrides_of(overlay(result))
    assert source.step_model(1.0, 10.0, calibrated).inventory.lock_hold == 0
    light = source.predict_step(10.0, 10.0, calibrated)
    share = {e: f["throughput"] / sum(g["throughput"] for g in light.values())
             for e, f in light.items()}
    ceiling = 1 / sum(share[e] * result.endpoints[e].demand_s for e in share)
    sessions = 2 * ceiling / requests_per_session(scenario)
    predicted = source.predict_step(sessions, 10.0, calibrated)
    assert sum(e["throughput"] for e in predicted.values()) == pytest.approx(ceiling, rel=0.10)


def test_shared_spread_is_fitted_to_the_waiting_at_moderate_load():
    """Steps at half the ceiling answered as the calibrated model with cv 1.5 answers them,
    and one whose p95 is three times theirs (a machine stalled minutes apart): the spread is
    their median step's, 1.5, shared by every endpoint; the light steps and the saturated one
    say nothing about it."""
    result = fit(ramp())
    scenario = load_scenario(FLASH)
    source = Source(FLASH, [], [], scenario, scenario.seed)
    for fitted in result.endpoints.values():
        fitted.cv = 1.5
    sessions = 0.5 * journey_capacity() / requests_per_session(scenario)
    answered = source.predict_step(sessions, STEP_S, overrides_of(overlay(result)))
    total = round(sum(f["requests"] for f in answered.values()))

    def half(index: int, slower: float) -> StepResult:
        return StepResult(
            index=index, sessions_per_s=sessions, duration_s=STEP_S, ran_s=STEP_S,
            offered=total, requests=total, errors=0,
            endpoints={e: {"requests": round(f["requests"]), "mean_ms": f["p50_ms"],
                           "p50_ms": f["p50_ms"], "p95_ms": f["p95_ms"] * slower,
                           "p99_ms": f["p99_ms"]} for e, f in answered.items()},
            cpu_s=None, stopped_because="schedule completed")

    steps = [*ramp(), half(5, 1.0), half(6, 3.0), half(7, 1.0)]
    tuned = tune(source, steps, fit(steps))
    assert tuned.queue_cv == pytest.approx(1.5)
    assert {f.cv for f in tuned.endpoints.values()} == {1.5}
    assert [w["step"] for w in tuned.waiting] == [5, 6, 7]
    assert tuned.waiting[1]["best_cv"] > 2.5
    assert all(WAITING[0] <= w["utilization"] <= WAITING[1] for w in tuned.waiting)


def test_a_ramp_that_doubled_past_the_ceiling_measures_once_more_in_between():
    """Doubled from the last step under the ceiling to the first at it: one more step 40%
    above the one under it (run 20 took a step the load generator could not send for the
    ceiling). Grown gently already, or by less: nothing more to measure."""
    assert between_rate(10.0, 20.0) == pytest.approx(14.0)
    assert between_rate(10.0, 14.0) is None
    assert between_rate(10.0, 15.0) is None
