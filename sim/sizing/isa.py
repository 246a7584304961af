"""Staffing the support queue per interval: SIPP, then the iterative staffing algorithm (ISA).

*SIPP* (stationary independent period by period) staffs each interval by the stationary
formula — Erlang C, or Erlang A when customers abandon — at that interval's arrival rate. It
ignores that contacts in service carry over: after a surge the agents of the next interval meet
the surge's backlog, and SIPP under-staffs there.

*ISA* follows Feldman, Mandelbaum, Massey and Whitt (Management Science 54(2), 2008): simulate
with the current staffing, measure the load each interval actually carries, re-staff each
interval by the stationary formula at that load, and iterate until the staffing stops changing.
Iteration 0 is the infinite-server system (nobody waits): its load is the offered load
m(t) = E[contacts in service], which lags the arrivals by the handle time (the modified
offered load). From then on the support queue is simulated with the current staffing on every
replication (common random numbers: the same contacts each time) and judged per interval at
the worse end of the confidence interval; an interval that misses the SLO is re-staffed at the
load that explains what the simulation saw there — the load at which the formula predicts the
observed service level (or abandonment) with the staffing it had — and never by less than one
more agent. Staffing only grows, so the iteration ends: when every interval meets the SLO it is
stable. The paper re-staffs at a quantile of the simulated number in system (a delay-probability
target); this is the same fixed point written for a service-level and abandonment target.

Loads come from the recorded contact stream's *expected* contacts (each chance of a contact at
its probability, the baseline at its rate), not the realized ones: a planner staffs to a
forecast, and on a stationary scenario this gives exactly the Erlang minimum in every interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..erlang import ErlangA, MMc, fewest_servers
from ..model.support import ContactStream
from ..results.summary import tidy
from ..run import mean_ci
from ..scenario.schema import Scenario, SupportSlo

Figures = dict[str, list[float]]
Replay = Callable[[Sequence[int]], list[Figures]]
"""Simulates the support queue on every replication with one agent count per interval."""
MAX_ITERATIONS = 25


@dataclass(frozen=True)
class Estimate:
    """A figure over replications: the mean and its confidence interval."""

    mean: float
    low: float
    high: float

    def to_json(self) -> dict[str, object] | None:
        if math.isnan(self.mean):
            return None
        return {"mean": tidy(self.mean), "ci95": [tidy(self.low), tidy(self.high)]}


@dataclass(frozen=True)
class Judged:
    """The SLO figures of one interval at one staffing."""

    service_level: Estimate
    asa_s: Estimate
    abandon_rate: Estimate
    occupancy: Estimate
    meets: bool


@dataclass(frozen=True)
class Iteration:
    """One step: the staffing simulated and how many intervals missed (no wall time: the
    outputs of one seed are the same bytes on every machine).

    ``kind`` is "isa" (re-staffing) or "trim" (giving back agents the simulation shows idle).
    """

    index: int
    kind: str
    agents: tuple[int, ...]
    missed: int


class Formula:
    """The stationary staffing formula of a scenario's support queue and SLO."""

    def __init__(self, scenario: Scenario):
        support, slo = scenario.support, scenario.slo.support if scenario.slo else None
        assert support is not None and slo is not None
        self.slo: SupportSlo = slo
        self.mu = 1.0 / support.handle_time.mean
        self.theta = 1.0 / support.patience.mean if support.patience is not None else 0.0

    def service_level(self, agents: int, rate: float) -> float:
        if self.theta:
            return ErlangA(agents, rate, self.mu, self.theta).service_level(self.slo.answer_within)
        if rate >= agents * self.mu:
            return 0.0
        return MMc(agents, rate, self.mu).service_level(self.slo.answer_within)

    def abandon_rate(self, agents: int, rate: float) -> float:
        return ErlangA(agents, rate, self.mu, self.theta).p_abandon if self.theta else 0.0

    def meets(self, agents: int, rate: float, level_margin: float = 0.0,
              abandon_margin: float = 0.0) -> bool:
        """Whether the SLO is met, with margins to spare on the service level and abandonment."""
        if rate <= 0:
            return True
        return (self.service_level(agents, rate) >= self.slo.service_level + level_margin
                and self.abandon_rate(agents, rate) <= self.slo.max_abandon - abandon_margin)

    def fewest(self, rate: float, level_margin: float = 0.0, abandon_margin: float = 0.0) -> int:
        """The fewest agents meeting the SLO at ``rate`` contacts per second, stationary."""
        return fewest_servers(lambda c: self.meets(c, rate, level_margin, abandon_margin),
                              max(1, math.ceil(rate / self.mu)))

    def restaff(self, agents: int, judged: Judged) -> int:
        """Agents for an interval that missed: the formula at the load the simulation showed
        (:meth:`rate_seen`), with the margin its confidence interval asks for on the target it
        missed (at most half the way to a perfect score); at least one more than it had."""
        slo, level, abandon = self.slo, judged.service_level, judged.abandon_rate
        level_margin = (min(level.mean - level.low, (1 - slo.service_level) / 2)
                        if level.low < slo.service_level else 0.0)
        abandon_margin = (min(abandon.high - abandon.mean, slo.max_abandon / 2)
                          if abandon.high > slo.max_abandon else 0.0)
        return max(agents + 1, self.fewest(self.rate_seen(agents, judged), level_margin,
                                           abandon_margin))

    def rate_seen(self, agents: int, judged: Judged) -> float:
        """The arrival rate at which the formula, with ``agents``, predicts the service level
        and abandonment simulated (their means)."""
        level, abandon = judged.service_level.mean, judged.abandon_rate.mean
        guess = max(agents, 1) * self.mu
        rate = _solve(lambda r: self.service_level(agents, r) <= level, guess)
        if self.theta and abandon > 0:
            rate = max(rate, _solve(lambda r: self.abandon_rate(agents, r) >= abandon, guess))
        return rate


def _solve(reached: Callable[[float], bool], guess: float) -> float:
    """The smallest rate (to 0.5%) where a criterion monotone in the rate is reached."""
    low, high = 0.0, max(guess, 1e-6)
    for _ in range(40):
        if reached(high):
            break
        low, high = high, high * 2
    while high - low > 0.005 * high:
        middle = (low + high) / 2
        if reached(middle):
            high = middle
        else:
            low = middle
    return high


def lengths(scenario: Scenario, intervals: int) -> np.ndarray:
    """Seconds in each staffing interval (the last may be cut short by the clock)."""
    per = scenario.sizing.agents.per
    starts = np.arange(intervals) * per
    return np.minimum(starts + per, scenario.clock.duration) - starts


def offered_rates(scenario: Scenario, streams: Sequence[ContactStream]) -> np.ndarray:
    """Expected contacts reaching an agent (past the bot) per second, per interval."""
    assert scenario.support is not None
    expected = np.mean([s.expected for s in streams], axis=0)
    return expected * (1 - scenario.support.bot_deflection) / lengths(scenario, len(expected))


def offered_load(rates: np.ndarray, widths: np.ndarray, handle: float) -> np.ndarray:
    """Mean contacts in service per interval if nobody waited (infinite servers).

    m' = rate - m / handle within an interval (exponential handle time of the same mean); the
    day starts as if the first interval's rate had always held, so a stationary day carries the
    stationary load rate x handle everywhere.
    """
    loads = np.empty_like(rates)
    m = rates[0] * handle if len(rates) else 0.0
    for i, (rate, width) in enumerate(zip(rates, widths, strict=True)):
        steady = rate * handle
        decay = math.exp(-width / handle)
        loads[i] = steady + (m - steady) * handle / width * (1 - decay)
        m = steady + (m - steady) * decay
    return loads


def judge(figures: list[Figures], slo: SupportSlo, confidence: float,
          future: int | None = None) -> list[Judged]:
    """Each interval's SLO figures over replications, met or not at the CI's worse end — or,
    with ``future``, at the worse end of the prediction interval of the mean of that many
    further days (the figures reported are the confidence intervals either way)."""
    judged = []
    for i in range(len(figures[0]["offered"])):
        served = [f for f in figures if f["offered"][i] > 0]
        levels = [f["within_target"][i] / f["offered"][i] for f in served]
        abandons = [f["abandoned"][i] / f["offered"][i] for f in served]
        level, abandon = _estimate(levels, confidence), _estimate(abandons, confidence)
        asa = _estimate([f["wait_answered_s"][i] / f["answered"][i]
                         for f in figures if f["answered"][i] > 0], confidence)
        occupancy = _estimate([f["busy_s"][i] / f["staffed_s"][i]
                               for f in figures if f["staffed_s"][i] > 0], confidence)
        if future:
            worst_level = _estimate(levels, confidence, future).low
            worst_abandon = _estimate(abandons, confidence, future).high
        else:
            worst_level, worst_abandon = level.low, abandon.high
        meets = not served or (worst_level >= slo.service_level - 1e-12
                               and worst_abandon <= slo.max_abandon + 1e-12)
        judged.append(Judged(level, asa, abandon, occupancy, meets))
    return judged


def _estimate(values: list[float], confidence: float, future: int | None = None) -> Estimate:
    if not values:
        return Estimate(math.nan, math.nan, math.nan)
    mean, low, high = mean_ci(values, confidence, future)
    return Estimate(mean, max(low, 0.0), high)


@dataclass(frozen=True)
class Staffed:
    """The outcome of ISA: agents per interval, their SLO figures, and the steps taken."""

    agents: list[int]
    judged: list[Judged]
    iterations: list[Iteration]


def iterate(formula: Formula, start: Sequence[int], replay: Replay, confidence: float,
            cap: Sequence[int], progress: Callable[[int], None] | None = None,
            future: int | None = None) -> Staffed:
    """Simulate, re-staff the intervals that miss, until every interval meets the SLO; then
    give back, where the simulation allows, agents the re-staffing added beyond ``start``.

    Stops early at ``MAX_ITERATIONS`` or when a missing interval is already at its ``cap``
    agents; the intervals still missing then show it in their ``meets``. ``future``: judged
    on the prediction interval of that many further days' mean (:func:`judge`).
    """
    agents = [int(a) for a in start]
    iterations: list[Iteration] = []

    def step(kind: str, trial: list[int]) -> list[Judged]:
        judged = judge(replay(trial), formula.slo, confidence, future)
        iterations.append(Iteration(len(iterations), kind, tuple(trial),
                                    sum(not j.meets for j in judged)))
        if progress is not None:
            progress(len(iterations))
        return judged

    judged = step("isa", agents)
    while len(iterations) < MAX_ITERATIONS:
        grow = [i for i, j in enumerate(judged) if not j.meets and agents[i] < cap[i]]
        if not grow:
            break
        for i in grow:
            agents[i] = min(cap[i], formula.restaff(agents[i], judged[i]))
        judged = step("isa", agents)
    while len(iterations) < MAX_ITERATIONS and all(j.meets for j in judged):
        trial = [a - 1 if a > floor else a for a, floor in zip(agents, start, strict=True)]
        if trial == agents:
            break
        tried = step("trim", trial)
        missed = {i for i, j in enumerate(tried) if not j.meets}
        if not missed:
            agents, judged = trial, tried
            continue
        # Keep the cuts that hurt nobody: not where it missed, nor just before a miss (the
        # backlog an interval leaves is the next interval's wait).
        trial = [a if (i in missed or i + 1 in missed) else t
                 for i, (a, t) in enumerate(zip(agents, trial, strict=True))]
        if trial == agents:
            break
        tried = step("trim", trial)
        if not all(j.meets for j in tried):
            break
        agents, judged = trial, tried
    return Staffed(agents, judged, iterations)
