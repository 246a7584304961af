"""The drill as the model sees it: the prediction against queueing theory in real time, and
comparison.json's rows against a drill's figures."""

from __future__ import annotations

import math

import pytest

from sim.results.compare import compare, drill_model, predict
from sim.scenario import load_scenario
from sim.scenario.loader import Source, validate

from .conftest import ROOT

ARRIVALS_PER_S = 60.0
"""Requests per real second the drills below send."""
SERVICE_S = 0.010
"""The target's mean service time, real seconds: rho = 0.6 on one worker."""
COMPRESS = 5.0


def mm1_drill(**drill: object) -> dict:
    """One endpoint, exponential service, Poisson requests: a drill of an M/M/1 target."""
    per_min = ARRIVALS_PER_S * 60 / COMPRESS  # scenario sessions per minute (scale 1)
    return {
        "name": "mm1-drill", "seed": 3,
        "clock": {"start": "2026-11-11T00:00:00+08:00", "duration": "6h"},
        "traffic": {"sessions_per_min": {"00:00": per_min},
                    "phases": {"first": ["01:00", "03:00"], "second": ["03:00", "05:00"]}},
        "customers": {"think_time": "constant(0s)", "segments": {"all": {
            "share": 1, "product_views": "constant(0)",
            "funnel": {"cart": 0, "checkout": 0, "pay": 0}}}},
        "platform": {"instances": 1, "endpoints": {
            "home": {"service": f"exponential(mean={SERVICE_S * 1000:g}ms)"}}},
        "drill": {"window": ["01:00", "05:00"], "compress": COMPRESS, **drill},
    }


def scenario_of(doc: dict):
    return validate(Source("test.yaml", doc))


def window(scenario) -> tuple[float, float]:
    return scenario.clock.window(*scenario.drill.window)


def test_prediction_is_mm1_in_real_time():
    """Stretching the target by `compress` and dividing latencies back: an M/M/1 target at
    rho = 0.6 answers in Exp(mu - lambda) real seconds, whatever the compression."""
    scenario = scenario_of(mm1_drill())
    predicted = predict(scenario, window(scenario))
    home = predicted["endpoints"]["home"]
    rate = 1 / SERVICE_S - ARRIVALS_PER_S
    assert home["throughput"] == pytest.approx(ARRIVALS_PER_S, rel=0.02)
    for key, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        assert home[key] == pytest.approx(-math.log(1 - q) / rate * 1000, rel=0.06), key
    for phase in ("first", "second"):
        assert predicted["phases"][phase]["home"]["throughput"] == pytest.approx(
            ARRIVALS_PER_S, rel=0.03)


def test_a_cost_that_falls_with_load_is_taken_at_the_drills_own_load():
    """``drill.demand_by_load`` 2 at 30 requests/s and 0.5 at 120 puts the factor at the
    drill's 60 requests/s midway on the log scale (1.25): the target is then M/M/1 at 12.5 ms,
    rho = 0.75, and answers in Exp(80 - 60) real seconds."""
    scenario = scenario_of({**mm1_drill(), "drill": {
        **mm1_drill()["drill"], "demand_by_load": {30: 2.0, 120: 0.5}}})
    predicted = predict(scenario, window(scenario))
    assert predicted["demand_factor"] == pytest.approx(1.25, rel=0.02)
    home = predicted["endpoints"]["home"]
    rate = 1 / (SERVICE_S * 1.25) - ARRIVALS_PER_S
    for key, q in (("p50_ms", 0.5), ("p95_ms", 0.95)):
        assert home[key] == pytest.approx(-math.log(1 - q) / rate * 1000, rel=0.08), key
    assert predict(scenario_of(mm1_drill()), window(scenario))["demand_factor"] == 1.0


def test_outside_time_is_added_to_every_latency():
    """A constant outside time shifts every percentile by itself; a spread one is drawn and
    added: the sum's percentiles, not the sum of percentiles."""
    base = scenario_of(mm1_drill())
    shifted = scenario_of(mm1_drill(outside_server={"home": "constant(2ms)"}))
    spread = scenario_of(mm1_drill(outside_server={"home": "exponential(mean=10ms)"}))
    plain, moved, drawn = (predict(s, window(s))["endpoints"]["home"]
                           for s in (base, shifted, spread))
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        assert moved[key] == pytest.approx(plain[key] + 2.0, rel=0.03)
    # M/M/1 response Exp(40/s) plus Exp(mean 10 ms): the sum's median is 28.2 ms (2,000,000
    # draws), not the medians' sum 17.3 + 6.9 = 24.3 ms.
    assert drawn["p50_ms"] == pytest.approx(28.2, rel=0.05)


def test_the_load_generators_busy_share_is_foreseen_beside_the_drills():
    """A generator spending 12.5 ms of its core per request at 60 a second is busy 75%; from
    three processes each sends 20 a second at its cost there (15 ms): 30%. The comparison
    sets that beside the drill's busiest process, and says when it passes the generator's
    limit (90%: 1.2 cores at 20 ms). The latencies are the target's alone either way (the
    module's note says why)."""
    generator = {"cpu_by_load": {20: "15ms", 60: "12.5ms", 1000: "10ms"}}
    scenario = scenario_of(mm1_drill(load_generator=generator))
    predicted = predict(scenario, window(scenario))
    assert predicted["generator_busy"] == pytest.approx(0.75, rel=0.03)
    plain = predict(scenario_of(mm1_drill()), window(scenario))
    assert plain["generator_busy"] is None
    assert predicted["endpoints"] == plain["endpoints"]
    spread = predict(scenario, window(scenario), processes=3)
    assert spread["generator_busy"] == pytest.approx(20 * 0.015, rel=0.03)
    drill = {"planned_duration_s": 30 * 60 / COMPRESS, "sessions": {"started": 21_000},
             "error_rate": 0, "workers": 3, "load_generator": {"busy": 0.33},
             "endpoints": {"home": {"requests": 21_600, "p50_ms": 20.0, "p95_ms": 80.0,
                                    "p99_ms": 120.0}}, "sold_out": {}}
    short = scenario_of(mm1_drill(window=["01:00", "01:30"], load_generator=generator))
    document = compare(short, drill, window(short), curve=False)
    busy = next(r for r in document["rows"] if r["figure"] == "load generator busy")
    assert busy["predicted"] == pytest.approx(0.3, rel=0.03)
    assert busy["observed"] == 0.33
    assert busy["relative_error"] == pytest.approx((busy["predicted"] - 0.33) / 0.33, abs=1e-3)
    assert document["notes"] == []
    alone = compare(short, {**drill, "workers": 0}, window(short), curve=False)
    assert alone["notes"] == [], "75% busy: under the generator's limit"
    hard = scenario_of(mm1_drill(window=["01:00", "01:30"], load_generator={
        "cpu_by_load": {60: "20ms"}}))
    past = compare(hard, {**drill, "workers": 0}, window(hard), curve=False)
    assert next(r for r in past["rows"] if r["figure"] == "load generator busy")[
        "predicted"] == pytest.approx(1.2, rel=0.03)
    assert any("busy 120% of its core" in n for n in past["notes"])
    without = compare(scenario_of(mm1_drill(window=["01:00", "01:30"])), drill,
                      window(short), curve=False)
    assert "load generator busy" not in {r["figure"] for r in without["rows"]}


def test_model_starts_empty_at_the_window():
    """The model runs the window alone on a clock that starts there (as the drill's target
    does), with the rate curve kept inside the window."""
    doc = mm1_drill()
    doc["traffic"]["sessions_per_min"] = {"00:00": 100, "02:00": 300, "06:00": 300}
    scenario = scenario_of(doc)
    model = drill_model(scenario, window(scenario))
    assert model.clock.duration == 4 * 3600 + scenario.drill.graceful_stop * COMPRESS
    assert model.clock.start.hour == 1
    assert model.customers.client_timeout is None
    assert model.platform.endpoints["home"].service.mean == pytest.approx(SERVICE_S * COMPRESS)
    # sessions in 01:00-05:00: half an hour-ramp 200->300 over 1h, then 300 for 3h, per minute
    expected = (250 * 60 + 300 * 180)
    assert predict(scenario, window(scenario))["sessions"] == pytest.approx(expected, rel=0.02)


def test_sessions_walk_on_through_the_graceful_stop():
    """The drill starts sessions during its window only and counts the requests of those
    still walking after it, for drill.graceful_stop: so does the prediction. Sessions of
    home and three product views 10 s apart (2 real seconds) all end within the default 10 s:
    three views each; with no graceful stop, those started in the window's last 30 s lose
    the views that fall after it (12 sessions a second: 12 x (10 + 20 + 30) = 720)."""
    doc = mm1_drill(window=["01:00", "01:30"])
    doc["traffic"]["sessions_per_min"] = {"00:00": 12 * 60}
    doc["customers"]["think_time"] = "constant(10s)"
    doc["customers"]["segments"]["all"]["product_views"] = "constant(3)"
    doc["platform"]["endpoints"]["product"] = {"service": "constant(1ms)"}
    doc["catalog"] = {"skus": [{"id": "A", "stock": 10, "price": 1}]}
    walked = predict(scenario_of(doc), window(scenario_of(doc)))
    assert walked["endpoints"]["product"]["requests"] == 3 * walked["sessions"]
    doc["drill"]["graceful_stop"] = "0s"
    cut = predict(scenario_of(doc), window(scenario_of(doc)))
    assert cut["sessions"] == walked["sessions"]
    lost = 3 * cut["sessions"] - cut["endpoints"]["product"]["requests"]
    assert lost == pytest.approx(720, abs=4 * math.sqrt(720))


def test_comparison_rows_set_prediction_beside_the_drill():
    scenario = scenario_of(mm1_drill(window=["01:00", "01:30"]))
    seconds = 30 * 60 / COMPRESS
    drill = {"planned_duration_s": seconds, "ran_s": seconds + 0.4,
             "sessions": {"started": 21_000}, "error_rate": 0.0,
             "endpoints": {"home": {"requests": 21_600, "p50_ms": 20.0, "p95_ms": 80.0,
                                    "p99_ms": 120.0, "error_rate": 0.0}},
             "phases": {"first": {"home": {"count": 21_600, "p50_ms": 20.0, "p95_ms": 80.0,
                                           "p99_ms": 120.0}}},
             "sold_out": {}}
    document = compare(scenario, drill, window(scenario), curve=False)
    rows = {(r["figure"], r["endpoint"], r["phase"]): r for r in document["rows"]}
    throughput = rows[("throughput", "home", "all")]
    assert throughput["observed"] == pytest.approx(60.0)
    assert throughput["relative_error"] == pytest.approx(
        (throughput["predicted"] - 60.0) / 60.0, abs=1e-3)
    assert abs(throughput["relative_error"]) < 0.05
    p95 = rows[("latency p95", "home", "first")]
    assert p95["requests"] == 21_600
    assert p95["relative_error"] == pytest.approx((p95["predicted"] - 80.0) / 80.0, abs=1e-3)
    assert {"sessions", "error rate"} <= {r["figure"] for r in document["rows"]}
    assert set(document) >= {"scenario", "window", "scale", "compress", "seed", "rows"}


@pytest.mark.parametrize(("cpu_ms", "noted"), [(10.5, False), (13.0, True), (8.5, True)])
def test_the_targets_cpu_per_request_is_set_beside_the_models_demand(cpu_ms, noted):
    """The drill's CPU seconds over its requests against the model's 10 ms demand: within
    CPU_DRIFT nothing is said; beyond it, in either direction, a note says the latency
    predictions carry the difference. No CPU (a target without /metrics): no row."""
    scenario = scenario_of(mm1_drill(window=["01:00", "01:30"]))
    seconds = 30 * 60 / COMPRESS
    requests = 21_600
    drill = {"planned_duration_s": seconds, "sessions": {"started": 21_000}, "error_rate": 0,
             "endpoints": {"home": {"requests": requests, "p50_ms": 20.0, "p95_ms": 80.0,
                                    "p99_ms": 120.0}}, "sold_out": {}}
    document = compare(scenario, drill, window(scenario), curve=False,
                       target_cpu_s=cpu_ms / 1000 * requests)
    cpu = next(r for r in document["rows"] if r["figure"] == "CPU per request (ms)")
    assert cpu["predicted"] == pytest.approx(SERVICE_S * 1000)
    assert cpu["observed"] == pytest.approx(cpu_ms)
    assert cpu["relative_error"] == pytest.approx((SERVICE_S * 1000 - cpu_ms) / cpu_ms, abs=1e-3)
    assert bool(document["notes"]) == noted, document["notes"]
    without = compare(scenario, drill, window(scenario), curve=False)
    assert "CPU per request (ms)" not in {r["figure"] for r in without["rows"]}
    assert without["notes"] == []


def test_load_curve_rises_with_load():
    scenario = scenario_of(mm1_drill(window=["01:00", "01:30"]))
    curve = compare(scenario, {"planned_duration_s": 360, "sessions": {"started": 1},
                               "error_rate": 0, "endpoints": {}, "sold_out": {}},
                    window(scenario))["curve"]
    throughputs = [p["throughput"] for p in curve]
    p95s = [p["endpoints"]["home"]["p95_ms"] for p in curve]
    assert throughputs == sorted(throughputs)
    assert p95s[0] < p95s[3] < p95s[-1]  # 15/s, 60/s and 90/s on a 100/s server


def test_a_flash_sale_audience_stops_arriving_with_the_window():
    """A window that ends while a sale's audience still piles in: the drill plans the buyers
    inside the window only, and so does the model, graceful stop or not."""
    def sessions(stop: str) -> float:
        scenario = load_scenario(ROOT / "scenarios" / "flash-sale.yaml", [
            'drill.window=["19:59","20:01"]', "drill.scale=0.05", f"drill.graceful_stop={stop}",
            "promotions.flash_sales.0.arrival_spread=exponential(mean=120s)"])
        return predict(scenario, window(scenario))["sessions"]

    assert sessions("10s") == sessions("0s")
