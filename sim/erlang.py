"""Queueing formulas: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M).

Used as starting points for sizing and as the yardstick the tests hold the simulator to.
Erlang B uses the stable recursion B(k) = a B(k-1) / (k + a B(k-1)); Erlang A solves the
birth-death chain of M/M/c+M directly (truncated where the tail is negligible), so it needs no
special functions and is exact to floating-point precision for the sizes that matter here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import expm_multiply


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``load`` Erlangs."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/c (``load`` < ``servers``)."""
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    rho = load / servers
    return b / (1 - rho + rho * b)


@dataclass(frozen=True)
class MMc:
    """Steady-state figures of M/M/c with arrival rate ``lam`` and service rate ``mu``."""

    servers: int
    lam: float
    mu: float

    @property
    def load(self) -> float:
        return self.lam / self.mu

    @property
    def utilization(self) -> float:
        return self.load / self.servers

    @property
    def p_wait(self) -> float:
        return erlang_c(self.servers, self.load)

    @property
    def mean_wait(self) -> float:
        """Wq: mean time in queue."""
        return self.p_wait / (self.servers * self.mu - self.lam)

    @property
    def mean_response(self) -> float:
        """W = Wq + 1/mu: mean time in system."""
        return self.mean_wait + 1 / self.mu

    def service_level(self, within: float) -> float:
        """P(wait <= within)."""
        return 1 - self.p_wait * math.exp(-(self.servers * self.mu - self.lam) * within)

    def response_over(self, t: float) -> float:
        """P(response time > t): no wait with probability 1 - C, else an exponential wait
        (rate c mu - lam) plus the exponential service."""
        mu, theta, c = self.mu, self.servers * self.mu - self.lam, self.p_wait
        if abs(theta - mu) < 1e-12:
            both = (1 + mu * t) * math.exp(-mu * t)
        else:
            both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
        return (1 - c) * math.exp(-mu * t) + c * both


LOG_NEGLIGIBLE = math.log(1e-16)
"""A state this much less likely than all together ends the chain."""


@dataclass(frozen=True)
class ErlangA:
    """M/M/c+M: customers abandon after an exponential patience with rate ``theta``.

    Solved on the birth-death chain: state n (customers in system) moves up at ``lam`` and down
    at ``min(n, c) mu + max(n - c, 0) theta``. Waiting-time figures follow from the state seen
    on arrival (PASTA) and the exponential race between service start and abandonment.
    """

    servers: int
    lam: float
    mu: float
    theta: float

    @cached_property
    def _probabilities(self) -> list[float]:
        c, lam, mu, theta = self.servers, self.lam, self.mu, self.theta
        if lam <= 0:
            return [1.0] + [0.0] * (c + 1)
        # In logarithms: with hundreds of agents and more arrivals than they serve, the
        # weights pass 1e308 and an overflow to inf would never meet the stopping test.
        logs = [0.0]
        log_total = 0.0
        n = 0
        while True:
            n += 1
            rate_down = min(n, c) * mu + max(n - c, 0) * theta
            logs.append(logs[-1] + math.log(lam / rate_down))
            log_total = np.logaddexp(log_total, logs[-1])
            if n > c and logs[-1] < LOG_NEGLIGIBLE + log_total:
                break
        return np.exp(np.asarray(logs) - log_total).tolist()

    @property
    def p_wait(self) -> float:
        """Probability an arrival finds all agents busy."""
        return sum(self._probabilities[self.servers:])

    def _per_queue_position(self):
        """For an arrival finding n >= c: (probability, rate ahead of it, abandonment)."""
        c, mu, theta = self.servers, self.mu, self.theta
        for n, p in enumerate(self._probabilities):
            if n >= c:
                yield n - c, p, c * mu, theta

    @property
    def p_abandon(self) -> float:
        """Share of arrivals who abandon before service."""
        total = 0.0
        for ahead, p, service_rate, theta in self._per_queue_position():
            # Reach service when `ahead + 1` departures happen before own patience expires:
            # the product over k of (rate + k theta) / (rate + (k + 1) theta) telescopes.
            served = service_rate / (service_rate + (ahead + 1) * theta)
            total += p * (1 - served)
        return total

    def service_level(self, within: float) -> float:
        """Share of arrivals answered within ``within`` (abandoners count as not answered).

        An arrival finding n >= c waits for n - c + 1 departures from the queue ahead (rate
        c mu + k theta with k still ahead) while its own patience runs (rate theta): an
        absorbing chain, whose column "served" of the matrix exponential gives every place in
        the queue at once. The generator is sparse (three entries a row) and, for hundreds of
        agents in an overloaded queue, thousands of places long, so the exponential is applied
        to that one column (``expm_multiply``): milliseconds where the dense matrix took
        seconds, which sizing's staffing searches call thousands of times.
        """
        probabilities = self._probabilities
        c, mu, theta = self.servers, self.mu, self.theta
        places = max(len(probabilities) - c, 0)
        if places == 0:
            return 1.0
        served, gone = places, places + 1
        ahead = np.arange(places)
        rows = np.concatenate([ahead, ahead, ahead])
        cols = np.concatenate([np.where(ahead > 0, ahead - 1, served), np.full(places, gone),
                               ahead])
        rates = np.concatenate([c * mu + ahead * theta, np.full(places, theta),
                                -(c * mu + (ahead + 1) * theta)])
        generator = csc_matrix((rates * within, (rows, cols)), shape=(places + 2, places + 2))
        column = np.zeros(places + 2)
        column[served] = 1.0
        reached = expm_multiply(generator, column)[:places]
        return float(sum(probabilities[:c]) + np.dot(probabilities[c:c + places], reached))

    @property
    def mean_wait_answered(self) -> float:
        """ASA: mean wait of the customers who are answered (abandoners excluded)."""
        numerator = denominator = 0.0
        for ahead, p, service_rate, theta in self._per_queue_position():
            served, wait = 1.0, 0.0
            for k in range(ahead + 1):
                rate = service_rate + (k + 1) * theta
                wait += 1 / rate
                served *= (service_rate + k * theta) / rate
            numerator += p * served * wait
            denominator += p * served
        p_answered_without_wait = 1 - self.p_wait
        return numerator / (denominator + p_answered_without_wait)


def fewest_servers(meets: Callable[[int], bool], start: int = 1) -> int:
    """The smallest c >= 0 with ``meets(c)``, for a criterion that stays met as c grows.

    Doubling from ``start`` then bisection: a few evaluations of the formula, however large c.
    """
    if meets(0):
        return 0
    low, high = 0, max(start, 1)
    while not meets(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def erlang_c_many(servers: int, loads: np.ndarray) -> np.ndarray:
    """:func:`erlang_c` for many offered loads at once (sizing scans every minute of an hour).

    The same Erlang B recursion, one numpy step per server; loads at or above ``servers``
    wait with probability 1.
    """
    loads = np.asarray(loads, dtype=float)
    b = np.ones_like(loads)
    for k in range(1, servers + 1):
        b = loads * b / (k + loads * b)
    rho = loads / servers
    with np.errstate(divide="ignore", invalid="ignore"):
        c = b / (1 - rho + rho * b)
    return np.where(loads >= servers, 1.0, c)
