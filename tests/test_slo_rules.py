"""SLO rules judged directly: which limit an endpoint is held to, when a figure breaks it, and
the drill's thresholds built on both (the model's verdict is tested through runs in
test_verdict.py)."""

from __future__ import annotations

import json

import pytest

from loadtests.recorder import thresholds
from peakday.cli import app
from sim.behaviour.slo import Violation, judge, limit_for
from sim.scenario import load_scenario

from .conftest import SCENARIOS

FLASH = SCENARIOS / "flash-sale.yaml"  # latency_p99: {checkout: 800ms, pay: 1500ms, default: 1s}


@pytest.fixture(scope="module")
def slo():
    return load_scenario(FLASH).slo


def test_an_endpoint_is_held_to_its_own_limit_else_the_default(slo) -> None:
    assert limit_for(slo, "pay") == 1.5
    assert limit_for(slo, "checkout") == 0.8
    assert limit_for(slo, "home") == 1.0
    assert limit_for(None, "home") is None


def test_without_a_default_an_endpoint_without_a_limit_is_not_judged() -> None:
    slo = load_scenario(FLASH, ['slo.latency_p99={"pay": "2s"}']).slo
    assert limit_for(slo, "pay") == 2.0
    assert limit_for(slo, "home") is None


def test_reaching_a_ceiling_meets_it_and_passing_it_breaks_it() -> None:
    assert judge("error_rate", "all", 0.005, 0.005) is None
    assert judge("error_rate", "all", 0.1 + 0.2 - 0.3 + 0.005, 0.005) is None, "float rounding"
    assert judge("latency_p99", "pay", 1.2, 1.5) is None
    violation = judge("latency_p99", "pay", 2.1, 1.5)
    assert violation == Violation("latency_p99", "pay", 2.1, 1.5)
    assert violation.over_by == "40%"
    assert Violation("error_rate", "all", 0.01, 0.0).over_by == "n/a"


def test_drill_thresholds_judge_each_measured_endpoint_and_the_error_rate() -> None:
    scenario = load_scenario(FLASH)
    measured = {"endpoints": {"pay": {"p99_ms": 1499.0}, "checkout": {"p99_ms": 801.0},
                              "home": {"p99_ms": 1000.0}, "cart": {"p99_ms": None}},
                "error_rate": 0.005}
    checks = {(c["metric"], c["endpoint"]): c for c in thresholds(scenario, measured)}
    assert set(checks) == {("latency_p99", "pay"), ("latency_p99", "checkout"),
                           ("latency_p99", "home"), ("error_rate", "all")}, "cart measured nothing"
    assert checks[("latency_p99", "pay")]["passed"]
    assert not checks[("latency_p99", "checkout")]["passed"]
    assert checks[("latency_p99", "checkout")]["limit_ms"] == 800
    assert checks[("latency_p99", "home")]["passed"], "at the default limit exactly"
    assert checks[("error_rate", "all")]["passed"], "at the limit exactly"
    measured["error_rate"] = 0.0051
    assert not {c["endpoint"]: c for c in thresholds(scenario, measured)}["all"]["passed"]


def test_a_scenario_without_slos_has_no_thresholds() -> None:
    scenario = load_scenario(FLASH)
    scenario = scenario.model_copy(update={"slo": None})
    assert thresholds(scenario, {"endpoints": {"pay": {"p99_ms": 9e9}}, "error_rate": 1}) == []


def test_simulate_check_exits_1_naming_the_hours_and_the_endpoint(runner, tmp_path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [
        "simulate", str(FLASH), "--check", "--out", str(out),
        "--set", 'traffic.sessions_per_min={"19:00": 100}',
        "--set", "promotions.flash_sales.0.audience=2000",
        "--set", 'slo.latency_p99={"checkout": "50ms", "default": "10s"}',
        "--set", "slo.error_rate=1", "--set", "slo.support=null"])
    assert result.exit_code == 1, result.output
    assert "SLOs not met" in result.output
    line = next(x for x in result.output.splitlines() if "checkout p99" in x)
    assert "19:00–21:00" in line and "> 50 ms" in line, line
    violations = json.loads((out / "summary.json").read_text())["slo"]["violations"]
    assert [(v["endpoint"], v["from"], v["to"]) for v in violations] == [
        ("checkout", "19:00", "20:00"), ("checkout", "20:00", "21:00")]
    assert all(v["value_ms"] > v["limit_ms"] == 50 for v in violations)
