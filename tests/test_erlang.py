"""sim.erlang against published values and an independent solution of the Markov chain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.linalg import expm

from sim.erlang import ErlangA, MMc, erlang_b, erlang_c


def test_erlang_b_and_c_published_values():
    # Erlang B tables: 5 Erlangs on 10 trunks block 1.84%; 10 Erlangs on 15 block 3.65%.
    assert erlang_b(10, 5.0) == pytest.approx(0.018385, abs=1e-5)
    assert erlang_b(15, 10.0) == pytest.approx(0.036497, abs=1e-5)
    # Erlang C: 10 Erlangs on 11 agents waits with P = 0.6821 (call-centre textbook example).
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=1e-4)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)                  # M/M/1: P(wait) = rho
    assert MMc(1, 4.0, 5.0).mean_response == pytest.approx(1.0)    # M/M/1: W = 1/(mu - lam)
    assert MMc(2, 1.0, 1.0).mean_wait == pytest.approx(1 / 3)       # M/M/2, rho = 1/2


def _chain(c: int, lam: float, mu: float, theta: float, states: int = 400) -> np.ndarray:
    """Stationary distribution of M/M/c+M by a linear solve of the truncated generator."""
    q = np.zeros((states, states))
    for n in range(states):
        if n + 1 < states:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = min(n, c) * mu + max(n - c, 0) * theta
        q[n, n] = -q[n].sum()
    a = np.vstack([q.T, np.ones(states)])
    b = np.zeros(states + 1)
    b[-1] = 1
    return np.linalg.lstsq(a, b, rcond=None)[0]


@pytest.mark.parametrize(("c", "lam", "mu", "theta"), [
    (9, 8 / 240, 1 / 240, 1 / 120), (20, 22 / 300, 1 / 300, 1 / 60), (3, 2.0, 1.0, 0.5),
])
def test_erlang_a_matches_the_birth_death_chain(c, lam, mu, theta):
    pi = _chain(c, lam, mu, theta)
    model = ErlangA(c, lam, mu, theta)
    assert model.p_wait == pytest.approx(pi[c:].sum(), rel=1e-9)
    mean_queue = sum(max(n - c, 0) * p for n, p in enumerate(pi))
    # Abandonment is the flow out of the queue by impatience, by rate balance.
    assert model.p_abandon == pytest.approx(theta * mean_queue / lam, rel=1e-6)


def test_erlang_a_limits():
    # theta = mu: every customer leaves at rate mu, so N is Poisson(a) (an M/M/inf).
    c, lam, mu = 5, 4.0, 1.0
    model = ErlangA(c, lam, mu, mu)
    poisson = stats.poisson(lam / mu)
    assert model.p_wait == pytest.approx(poisson.sf(c - 1), rel=1e-9)
    expected_excess = sum((n - c) * poisson.pmf(n) for n in range(c, 200))
    assert model.p_abandon == pytest.approx(expected_excess * mu / lam, rel=1e-9)
    # Patience -> infinity: Erlang A -> Erlang C.
    patient = ErlangA(10, 8.0, 1.0, 1e-9)
    assert patient.p_wait == pytest.approx(erlang_c(10, 8.0), rel=1e-5)
    assert patient.mean_wait_answered == pytest.approx(MMc(10, 8.0, 1.0).mean_wait, rel=1e-4)
    assert patient.p_abandon < 1e-6
    assert math.isfinite(ErlangA(1, 5.0, 1.0, 2.0).mean_wait_answered)


def _dense_service_level(model: ErlangA, within: float) -> float:
    """The service level by the dense matrix exponential of the whole absorbing chain."""
    probabilities, c = model._probabilities, model.servers
    places = len(probabilities) - c
    served, gone = places, places + 1
    generator = np.zeros((places + 2, places + 2))
    for ahead in range(places):
        generator[ahead, ahead - 1 if ahead else served] = c * model.mu + ahead * model.theta
        generator[ahead, gone] = model.theta
        generator[ahead, ahead] = -(c * model.mu + (ahead + 1) * model.theta)
    reached = expm(generator * within)[:places, served]
    return float(sum(probabilities[:c]) + np.dot(probabilities[c:], reached))


@pytest.mark.parametrize(("c", "load"), [(9, 0.9), (20, 1.1), (40, 3.0)])
def test_the_service_level_is_the_dense_chains_to_nine_digits(c, load):
    model = ErlangA(c, c * load / 240, 1 / 240, 1 / 120)
    assert model.service_level(20.0) == pytest.approx(_dense_service_level(model, 20.0),
                                                      rel=1e-9, abs=1e-12)


def test_hundreds_of_agents_far_overloaded_do_not_overflow():
    # 700 agents offered twice what they serve: the unnormalised state weights pass 1e308.
    # Half the arrivals must abandon (the agents serve the other half), none is answered at once.
    model = ErlangA(700, 2 * 700 / 240, 1 / 240, 1 / 120)
    assert model.p_abandon == pytest.approx(0.5, abs=1e-3)
    assert model.p_wait == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= model.service_level(20.0) < 1e-3
