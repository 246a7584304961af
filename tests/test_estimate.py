"""The estimate before a run, and the limit rule it feeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.estimate import MAX_REQUESTS, estimate, load_of, over_limits
from sim.run import run
from sim.scenario import load_scenario

from .conftest import SCENARIOS, SHIPPED

GiB = 2.0**30
QUIET = [*(f"traffic.sessions_per_min.{t}=300" for t in ("19:00", "19:55", "20:30", "21:00")),
         "promotions.flash_sales.0.audience=6000"]
"""flash-sale.yaml at a tenth of its rates: two hours, 42,000 sessions, a few seconds."""


def test_sessions_and_requests_match_a_real_run():
    """Sessions are the curve's integral (a Poisson count: within 4 sigma of it); requests
    leave out retries and support tickets, so a run makes a few percent more."""
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml", QUIET)
    cost = estimate(scenario)
    observed = run(scenario).observations[0].counters
    assert abs(observed["sessions"] - cost.sessions) < 4 * math.sqrt(cost.sessions)
    assert 0.9 * observed["requests"] < cost.requests < 1.05 * observed["requests"]


def test_flash_sale_audiences_count_as_sessions():
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml")
    without = load_scenario(SCENARIOS / "flash-sale.yaml",
                            ["promotions.flash_sales.0.audience=0"])
    audience = scenario.promotions.flash_sales[0].audience
    assert load_of(scenario).sessions - load_of(without).sessions == pytest.approx(audience)
    assert load_of(scenario).pending - load_of(without).pending == pytest.approx(audience)


def test_cost_grows_with_the_day_and_the_replications():
    day = estimate(load_scenario(SCENARIOS / "small-shop.yaml"))
    ten = estimate(load_scenario(SCENARIOS / "small-shop.yaml", ["clock.duration=10d"]))
    assert ten.sessions == pytest.approx(10 * day.sessions)
    assert ten.cpu_seconds > 9 * (day.cpu_seconds - 3)
    assert ten.peak_bytes > day.peak_bytes
    three = estimate(load_scenario(SCENARIOS / "small-shop.yaml"), replications=3, jobs=2,
                     cores=2)
    assert three.requests == pytest.approx(3 * day.requests)
    assert three.wall_seconds == pytest.approx(2 * day.cpu_seconds), "two rounds on two jobs"
    sliced = estimate(load_scenario(SCENARIOS / "small-shop.yaml"), replications=5, jobs=5,
                      cores=2)
    assert sliced.wall_seconds == pytest.approx(2.5 * day.cpu_seconds), "five on two cores"
    assert three.peak_bytes > 2 * day.peak_bytes, "two workers and a parent"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_shipped_scenarios_are_within_the_limits(path):
    cost = estimate(load_scenario(path))
    assert over_limits(cost, memory=2 * GiB) == [], cost.describe()


@pytest.mark.parametrize(("overrides", "reason"), [
    (["traffic.sessions_per_min.00:00=100000000"], "over 1.0 G requests"),
    (["traffic.sessions_per_min.00:00=2000000"], "over 1.0 G requests"),
    (["clock.duration=30000d"], "over 1.0 G requests"),
])
def test_runs_nobody_means_are_over_the_limits(overrides, reason):
    cost = estimate(load_scenario(SCENARIOS / "small-shop.yaml", overrides))
    assert cost.requests > MAX_REQUESTS
    reasons = over_limits(cost, memory=16 * GiB)
    assert any(reason in r for r in reasons), reasons


def test_memory_over_what_is_available_is_a_limit():
    cost = estimate(load_scenario(SCENARIOS / "double11.yaml"))
    assert over_limits(cost, memory=cost.peak_bytes * 2) == []
    assert over_limits(cost, memory=cost.peak_bytes / 2) == [
        f"more memory than the {cost.peak_bytes / 2 / 2**20:.0f} MiB available"]


def test_the_estimate_never_overflows():
    scenario = load_scenario(SCENARIOS / "small-shop.yaml", [
        "clock.duration=36500d", "traffic.sessions_per_min.00:00=1e15"])
    cost = estimate(scenario, replications=1000, jobs=64)
    assert all(np.isfinite([cost.sessions, cost.requests, cost.wall_seconds, cost.peak_bytes]))
    assert "e+" in cost.describe()
