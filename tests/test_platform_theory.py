"""The platform model against queueing theory: Erlang C (M/M/c) and Little's law.

The textbook scenario reduces the model to M/M/c. Runs are sized so that the 99% confidence
interval of the replications' mean response time has a half-width of at most 2% of the value,
and Erlang C's W = Wq + 1/mu must lie inside it. Each replication drops a 10-minute warm-up
(the model starts empty).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.erlang import MMc
from sim.run import run
from sim.scenario import load_scenario

from .conftest import SCENARIOS

MU = 5.0  # exponential(mean=200ms) in the textbook scenario
REPLICATIONS = 16


def textbook(c: int, rho: float, duration: str, extra: tuple[str, ...] = ()):
    lam = rho * c * MU
    return load_scenario(SCENARIOS / "textbook" / "mmc.yaml", [
        f"platform.instances={c}", f"traffic.sessions_per_min.00:00={lam * 60}",
        f"clock.duration={duration}", "clock.warmup=10m", *extra])


def ci99(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values)
    half = stats.t.ppf(0.995, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array))
    return float(array.mean()), float(half)


@pytest.mark.parametrize(("c", "rho", "duration"), [
    (1, 0.5, "14h"),
    (4, 0.8, "6h"),
    (16, 0.9, "2h"),
], ids=["M/M/1 rho=0.5", "M/M/4 rho=0.8", "M/M/16 rho=0.9"])
def test_mean_response_time_matches_erlang_c(c, rho, duration):
    scenario = textbook(c, rho, duration)
    result = run(scenario, replications=REPLICATIONS, jobs=2)
    means = [o.latency["all"].mean() for o in result.observations]
    mean, half = ci99(means)
    theory = MMc(c, rho * c * MU, MU).mean_response
    assert half <= 0.02 * mean, f"run too short: half-width {half / mean:.2%}"
    assert abs(mean - theory) <= half, f"W: theory {theory:.4f}, simulated {mean:.4f} ± {half:.4f}"
    utilization = [o.counters["busy_worker_seconds"] / o.counters["capacity_worker_seconds"]
                   for o in result.observations]
    u_mean, u_half = ci99(utilization)
    assert abs(u_mean - rho) <= u_half


def test_littles_law_holds_on_the_output():
    scenario = textbook(4, 0.8, "6h")
    result = run(scenario, replications=1)
    obs = result.observations[0]
    counters = obs.counters
    throughput = counters["requests"] / counters["measured_seconds"]
    w = obs.latency["all"].mean()
    assert counters["mean_in_system"] == pytest.approx(throughput * w, rel=0.02)
