"""Arrivals: the non-homogeneous Poisson process follows the piecewise-linear curve exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from sim.model.day import simulate_day
from sim.scenario import load_scenario
from sim.scenario.schema import Clock
from sim.traffic import RateCurve

from .conftest import SCENARIOS

CLOCK = Clock(start="2026-11-11T00:00:00+08:00", duration="2h")
# A quiet base with a spike that rises 100x within 10 seconds and falls back 30 s later.
SPIKE = {0.0: 60.0, 1200.0: 60.0, 1210.0: 6000.0, 1240.0: 6000.0, 1260.0: 60.0, 7200.0: 300.0}


def test_integral_is_exact_for_linear_pieces():
    curve = RateCurve(SPIKE, CLOCK)
    # 20 min at 1/s, a 10 s ramp 1 -> 100/s, 30 s at 100/s, a 20 s ramp back down.
    assert curve.integral(1260.0) == pytest.approx(1200 + 10 * 50.5 + 30 * 100 + 20 * 50.5)
    t = np.linspace(0, 7200, 1001)
    u = curve.integral(t)
    assert np.allclose(curve.inverse(u[1:]), t[1:], atol=1e-6)


def test_window_counts_match_the_curve_including_a_spike():
    curve = RateCurve(SPIKE, CLOCK)
    rng = np.random.default_rng(11)
    edges = np.concatenate([np.arange(0, 1200, 60.0), np.arange(1200, 1270, 5.0),
                            np.arange(1270, 7201, 60.0)])
    replications = 40
    observed = np.zeros(len(edges) - 1)
    for _ in range(replications):
        observed += np.histogram(curve.arrivals(0, 7200, rng), bins=edges)[0]
    expected = replications * np.diff(curve.integral(edges))
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    p_value = stats.chi2.sf(chi2, len(expected) - 1)
    assert p_value > 0.001, f"chi-square p = {p_value:.2g}"
    spike = (edges[:-1] >= 1210) & (edges[:-1] < 1240)
    z = (observed[spike].sum() - expected[spike].sum()) / np.sqrt(expected[spike].sum())
    assert abs(z) < 3


def test_curve_repeats_every_day_and_is_flat_outside_its_points():
    clock = Clock(start="2026-11-11T00:00:00+08:00", duration="3d")
    curve = RateCurve({3600.0: 60.0, 7200.0: 120.0}, clock)
    assert curve.rate(0.0) == pytest.approx(1.0)            # before the first point
    assert curve.rate(5400.0) == pytest.approx(1.5)         # linear between points
    assert curve.rate(50000.0) == pytest.approx(2.0)        # after the last point
    assert curve.rate(86400 + 5400.0) == pytest.approx(1.5)  # the next day repeats
    assert curve.integral(2 * 86400.0) == pytest.approx(2 * curve.per_day)


def test_simulated_minutes_follow_the_curve():
    scenario = load_scenario(SCENARIOS / "textbook" / "mmc.yaml", [
        "clock.duration=2h", "traffic.sessions_per_min.00:00=60",
        "traffic.sessions_per_min.01:00=600", "traffic.sessions_per_min.02:00=60"])
    obs = simulate_day(scenario, np.random.SeedSequence(5))
    arrivals = obs.series["arrivals"]
    curve = RateCurve(scenario.traffic.sessions_per_min, scenario.clock)
    expected = np.diff(curve.integral(np.arange(0, 7201, 60.0)))
    z = (arrivals.sum() - expected.sum()) / np.sqrt(expected.sum())
    assert abs(z) < 3
    chi2 = float(np.sum((arrivals - expected) ** 2 / expected))
    assert stats.chi2.sf(chi2, len(expected) - 1) > 0.001


def test_arrivals_come_in_chunks_of_bounded_size_whatever_the_rate():
    """10^8 sessions a minute: chunks of about CHUNK arrivals, never the hour's billions."""
    clock = Clock(start="2026-11-11T00:00:00+08:00", duration="1h")
    curve = RateCurve({0.0: 1e8, 1800.0: 1e8}, clock)
    chunks = curve.chunks(0.0, 3600.0, np.random.default_rng(3), expected=1000.0)
    sizes, last = [], 0.0
    for chunk in itertools.islice(chunks, 200):
        assert np.all(np.diff(chunk) >= 0) and chunk[0] >= last
        sizes.append(len(chunk))
        last = chunk[-1]
    assert max(sizes) < 1000 + 6 * np.sqrt(1000)
    assert abs(np.mean(sizes) - 1000) < 4 * np.sqrt(1000 / len(sizes))
    assert last == pytest.approx(200 * 1000 / (1e8 / 60), rel=0.01)  # 0.12 s of the hour


def test_chunks_together_are_the_process_over_the_whole_window():
    curve = RateCurve(SPIKE, CLOCK)
    rng = np.random.default_rng(12)
    times = np.concatenate(list(curve.chunks(0.0, 7200.0, rng, expected=500.0)))
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < 7200
    edges = np.concatenate([np.arange(0, 1200, 60.0), np.arange(1200, 1270, 5.0),
                            np.arange(1270, 7201, 60.0)])
    observed = np.histogram(times, bins=edges)[0]
    expected = np.diff(curve.integral(edges))
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    assert stats.chi2.sf(chi2, len(expected) - 1) > 0.001
