"""Customer service against Erlang C and Erlang A, inside 99% confidence intervals.

The textbook support scenarios are run ten times faster than written (handle time 24 s
instead of 240 s, ten times the contacts, patience and answer-within scaled alike): the
queue is the same in units of the mean handle time, and each simulated day holds ten times
the contacts, so the intervals shrink to <= 5% of the value in a few seconds of running.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.erlang import ErlangA, MMc
from sim.results.sections import support_rates
from sim.run import run
from sim.scenario import load_scenario

from .conftest import SCENARIOS

HANDLE = 24.0
REPLICATIONS = 16


def rates(name: str, agents: int, offered_erlangs: float, days: int, *extra: str):
    per_hour = offered_erlangs / HANDLE * 3600
    scenario = load_scenario(SCENARIOS / "textbook" / f"{name}.yaml", [
        f"support.agents.00:00={agents}", f"support.contacts.baseline_per_hour={per_hour}",
        f"support.handle_time=exponential(mean={HANDLE:g}s)", "slo.support.answer_within=2s",
        f"clock.duration={days}d", "clock.warmup=1h", *extra])
    result = run(scenario, replications=REPLICATIONS, jobs=2)
    first = math.ceil(scenario.clock.warmup / scenario.sizing.agents.per)
    days = [o.parts.support for o in result.observations]
    assert None not in days
    return [support_rates(day.intervals, first) for day in days]


def assert_inside(samples: list[dict], key: str, theory: float) -> None:
    values = np.array([s[key] for s in samples])
    mean = values.mean()
    half = stats.t.ppf(0.995, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    assert half <= 0.05 * mean, f"{key}: run too short, half-width {half / mean:.1%}"
    assert abs(mean - theory) <= half, f"{key}: theory {theory:.4g}, sim {mean:.4g} ± {half:.3g}"


@pytest.mark.parametrize(("agents", "erlangs", "days"), [(10, 8.0, 5), (10, 9.2, 9)],
                         ids=["rho=0.80", "rho=0.92"])
def test_erlang_c(agents, erlangs, days):
    samples = rates("erlang-c", agents, erlangs, days)
    theory = MMc(agents, erlangs / HANDLE, 1 / HANDLE)
    assert_inside(samples, "p_wait", theory.p_wait)
    assert_inside(samples, "service_level", theory.service_level(2.0))
    assert_inside(samples, "asa_s", theory.mean_wait)
    assert all(s["abandoned"] == 0 for s in samples)


def test_erlang_a():
    patience = 12.0
    samples = rates("erlang-a", 9, 8.0, 4, f"support.patience=exponential(mean={patience:g}s)")
    theory = ErlangA(9, 8.0 / HANDLE, 1 / HANDLE, 1 / patience)
    assert_inside(samples, "abandon_rate", theory.p_abandon)
    assert_inside(samples, "asa_s", theory.mean_wait_answered)
    assert_inside(samples, "p_wait", theory.p_wait)
