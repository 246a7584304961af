"""Servers: per sizing interval, the fewest instances that keep the platform inside its SLOs.

The criterion is the one a planner can rely on: in every interval, every endpoint's p99 and
the error rate stay within the SLO at the *worse* end of the confidence interval over the
replications (``sizing.confidence``). An endpoint with fewer than :data:`FEW` requests per
replication in an interval is judged on the p99 of all its replications pooled (as ``simulate
--check`` judges an hour): a p99 of a few dozen requests is their maximum, and the spread of
maxima would ask for servers no count of which helps.

How the search keeps the number of simulated days small:

- **Analytic start.** The scenario's own plan is simulated first (it is reported beside the
  sized one anyway); its requests per endpoint and minute give each interval's offered load,
  and M/M/c (Erlang C, :mod:`sim.erlang`) the fewest instances for which at most 1% of the
  interval's requests wait past the latency slack. Bursts within a minute, lock waits and
  retries are what the simulation then adds.
- **All intervals on the first day, then each on its own.** The first simulated day tests
  the estimate for every interval at once. Each interval then runs its own bracket on common
  random numbers: from the estimate, up by 30% (then 60%, 120%...) until it passes or down
  by 10% (20%, 40%...) until it fails, then bisection. Each later test of an interval is a
  day of its own — the other intervals at their best counts so far — cut just after the
  interval (the hours after it cannot change it) and, on this machine, started from a
  checkpoint just before it (:mod:`sim.sizing.forks`): trying 2 instances at 00:00 costs an
  hour of simulation, not a day.
- **Time order.** Queues and retries carry over from one interval into the next, so the plan
  is verified as a whole and, in time order, an interval that fails with the earlier ones at
  their final counts gets one more instance until the whole plan passes.
- **What binds.** An interval whose failing metric does not improve when its instances grow
  by a quarter or more is bound by something servers cannot fix — the stock lock (checkout),
  the payment provider (pay), or a service demand longer than its limit. That metric is then
  set aside for the interval (instances are sized for the others, the search stops adding)
  and reported as the binding constraint; the plan does not meet the SLO there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..behaviour.slo import limit_for
from ..erlang import erlang_c_many
from ..metrics import Histogram
from ..model.observer import MINUTE
from ..run import mean_ci
from ..scenario.schema import Scenario
from .work import Days, Measured, Plan, Unit, intervals, length

GROW, SHRINK = 0.3, 0.1
"""Bracketing steps: up 30% from a failing count, down 10% from a passing one."""
NO_HELP = 0.9
"""A metric that keeps 90% of its value when instances grow by a quarter is not servers'."""
MAX_STEPS = 14
"""Search steps (simulated days per replication) before the search stops where it is."""
MAX_FIXES = 6
"""Whole-plan verification rounds (time-order fixes) before giving up."""
ERROR = "error rate"
CAUSES = {"checkout": "stock lock", "pay": "payment provider"}
"""Who binds an endpoint's latency when servers do not help."""
OTHER = "service time itself"
"""What binds any other metric servers do not help (a demand longer than its limit)."""


class Progress:
    """What the search tells a progress bar: more work planned, one unit done."""

    def planned(self, units: int, step: str) -> None:
        """``units`` more simulated days are coming, for ``step``."""

    def done(self) -> None:
        """One simulated day finished."""


@dataclass
class Check:
    """One interval's SLO figures in one evaluation (worse end of the CI)."""

    values: dict[str, float]
    """Metric (``"<endpoint> p99"`` in seconds, or ``"error rate"``) -> value."""
    limits: dict[str, float]

    def ratio(self, metric: str) -> float:
        limit = self.limits[metric]
        return self.values[metric] / limit if limit else (math.inf if self.values[metric] else 0)

    def failing(self, ignored: set[str]) -> list[str]:
        """Metrics over their limit (worst first), leaving out ``ignored``."""
        over = [m for m in self.values if m not in ignored and self.ratio(m) > 1]
        return sorted(over, key=self.ratio, reverse=True)


@dataclass
class Interval:
    """The search's state and answer for one sizing interval."""

    index: int
    start: float
    end: float
    estimate: int
    tested: dict[int, Check] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)
    """Metrics servers cannot fix here (found bound by the stock lock or payments)."""
    bound_by: dict[str, str] = field(default_factory=dict)
    instances: int = 0
    final: Check | None = None
    """The figures of the whole plan's last evaluation."""

    def bracket(self, floor: int) -> tuple[int, int | None]:
        """(highest failing count, lowest passing count above it) among the tested counts."""
        failing = [c for c, check in self.tested.items() if check.failing(self.ignored)]
        lo = max(failing, default=floor - 1)
        passing = [c for c, check in self.tested.items()
                   if c > lo and not check.failing(self.ignored)]
        return lo, min(passing, default=None)

    def next_count(self, floor: int, ceiling: int) -> int | None:
        """The next count to test, or ``None`` when the answer is known."""
        lo, hi = self.bracket(floor)
        # Galloping: each further step in the same direction is twice as long.
        if hi is None:
            if lo >= ceiling:
                return None
            tries = sum(c <= lo for c in self.tested)
            return min(ceiling, lo + max(1, math.ceil(lo * GROW * 2 ** (tries - 1))))
        if hi - lo <= 1:
            return None
        if lo < floor:
            tries = sum(c >= hi for c in self.tested)
            return max(floor, hi - max(1, math.ceil(hi * SHRINK * 2 ** (tries - 1))))
        return (lo + hi) // 2

    def answer(self, floor: int, ceiling: int) -> int:
        lo, hi = self.bracket(floor)
        return hi if hi is not None else min(ceiling, max(floor, lo))

    def bound_text(self) -> str:
        """The metrics servers do not fix here, by cause: ``checkout p99, error rate bound by the
        stock lock; pay p99 bound by the payment provider``."""
        causes: dict[str, list[str]] = {}
        for metric, cause in self.bound_by.items():
            causes.setdefault(cause, []).append(metric)
        return "; ".join(f"{', '.join(metrics)} bound by the {cause}"
                         for cause, metrics in causes.items())

    def binds(self, floor: int) -> str:
        """What keeps this interval from one instance fewer."""
        if self.bound_by:
            return self.bound_text()
        below = self.tested.get(self.instances - 1)
        if self.instances <= floor:
            return "sizing.servers.min"
        if below is not None and below.failing(self.ignored):
            return below.failing(self.ignored)[0]
        if self.final is not None and self.final.values:
            return max(self.final.values, key=self.final.ratio)
        return "unknown"


@dataclass
class ServerPlan:
    """The sized server plan and how the search got there."""

    intervals: list[Interval]
    own: list[Check]
    """The scenario's own platform plan, judged the same way."""
    own_instance_hours: float
    instance_hours: float
    steps: int
    simulated_days: float
    """Simulated time the search asked for, in days (replications x plans, days cut short
    counted by their length), forked or not."""
    forked_days: float
    """Of those, the simulated time not simulated again: the hours before a checkpoint."""
    minute_requests: dict[str, list[float]]
    own_results: list[Measured]
    final_results: list[Measured]
    """The replications of the returned plan, in seed order (their contacts feed the agents)."""

    @property
    def plan(self) -> Plan:
        return tuple(i.instances for i in self.intervals)

    @property
    def met(self) -> bool:
        return all(i.final is not None and not i.final.failing(set()) for i in self.intervals)


def judge(scenario: Scenario, results: list[Measured]) -> list[Check]:
    """Each interval's SLO figures at the worse end of the CI over the replications."""
    slo = scenario.slo
    assert slo is not None
    confidence = scenario.sizing.confidence
    checks = []
    for i in range(intervals(scenario)):
        values: dict[str, float] = {}
        limits: dict[str, float] = {}
        for endpoint in scenario.platform.endpoints:
            limit = limit_for(slo, endpoint)
            seen = [r.latency[i][endpoint] for r in results if endpoint in r.latency[i]]
            if limit is None or not seen:
                continue
            values[f"{endpoint} p99"] = p99_high(seen, len(results), confidence)
            limits[f"{endpoint} p99"] = limit
        if slo.error_rate < 1:
            rates = [r.errors[i] / r.requests[i] if r.requests[i] else 0.0 for r in results]
            values[ERROR] = max(0.0, mean_ci(rates, confidence)[2])
            limits[ERROR] = slo.error_rate
        checks.append(Check(values, limits))
    return checks


FEW = 100
"""Requests per replication under which an interval's p99 is judged on the pooled replications:
the p99 of fewer than 100 requests is their maximum, and the spread of maxima over a few
replications would set a bound no count of servers meets."""


def p99_high(latencies: list[Histogram], replications: int, confidence: float) -> float:
    """An endpoint's p99 in one interval, at the worse end of the CI over the replications;
    with few requests (:data:`FEW`), the p99 of them all pooled, as ``simulate --check``
    judges it."""
    counts = [h.count for h in latencies]
    if sum(counts) / replications >= FEW:
        return mean_ci([h.quantile(0.99) for h in latencies], confidence)[2]
    pooled = Histogram()
    for h in latencies:
        pooled.merge(h)
    return pooled.quantile(0.99)


def estimate(scenario: Scenario, minute_requests: dict[str, list[float]]) -> list[int]:
    """Fewest instances per interval by M/M/c on the interval's minutes (see module doc)."""
    platform, sizing = scenario.platform, scenario.sizing.servers
    slo = scenario.slo
    assert slo is not None
    means: dict[str, float] = {e: d.service.mean for e, d in platform.endpoints.items()}
    slack = _slack(scenario, means)
    share = min(0.01, slo.error_rate) if slo.error_rate < 1 else 0.01
    per_minutes = round(sizing.per / MINUTE)
    lam = np.sum([np.asarray(r) for r in minute_requests.values()], axis=0) / MINUTE
    work = np.sum([np.asarray(r) * means[e] for e, r in minute_requests.items()
                   if e in means], axis=0) / MINUTE
    answers = []
    for i in range(intervals(scenario)):
        rates, loads = lam[i * per_minutes:(i + 1) * per_minutes], work[i * per_minutes:
                                                                           (i + 1) * per_minutes]
        answers.append(_fewest(rates, loads, slack, share, platform.workers_per_instance,
                               sizing.min, sizing.max))
    return answers


def _slack(scenario: Scenario, means: dict[str, float]) -> float:
    """How long a request may wait in the queue: the tightest p99 limit less ~p99 service."""
    slo = scenario.slo
    assert slo is not None
    room = [limit - 3 * means[e] for e, limit in ((e, limit_for(slo, e)) for e in means)
            if limit is not None]
    timeouts = [t for t in (scenario.platform.admission.queue_timeout,
                            scenario.customers.client_timeout) if t is not None]
    tightest = min([*room, *timeouts], default=1.0)
    return max(tightest, 0.1 * min(means.values()))


def _fewest(rates: np.ndarray, loads: np.ndarray, slack: float, share: float, per_instance: int,
            floor: int, ceiling: int) -> int:
    """Instances for which M/M/c keeps P(wait > slack) within ``share`` over the minutes."""
    if not len(rates) or rates.sum() == 0:
        return floor
    service = np.where(rates > 0, loads / np.maximum(rates, 1e-12), 0.0)
    instances = max(floor, math.ceil(loads.max() / per_instance))
    while instances < ceiling:
        workers = instances * per_instance
        waits = erlang_c_many(workers, loads)
        with np.errstate(divide="ignore", over="ignore"):
            decay = np.where(service > 0, np.exp(-(workers - loads) / np.maximum(service, 1e-12)
                                                 * slack), 0.0)
        late = np.where(loads < workers, waits * decay, 1.0)
        if float(np.dot(rates, late)) <= share * float(rates.sum()):
            return instances
        instances += 1
    return ceiling


def size_servers(scenario: Scenario, simulations: Days, replications: int,
                 progress: Progress | None = None) -> ServerPlan:
    """Search the fewest instances per interval (module doc); ``simulations`` runs the days."""
    progress = progress or Progress()
    sizing = scenario.sizing.servers
    floor, ceiling = sizing.min, sizing.max
    reps = range(replications)
    duration = scenario.clock.duration
    simulated = 0.0

    def evaluate(tests: list[tuple[Plan | None, float | None]], step: str,
                 searched: Sequence[Interval] = ()) -> list[list[Measured]]:
        """Each test's replications: (plan, where the day may stop) -> its days in seed order."""
        nonlocal simulated
        units: list[Unit] = [(plan, r, until) for plan, until in tests for r in reps]
        progress.planned(len(units), step)
        simulated += sum(length(scenario, unit) for unit in units)
        # A later plan may change an interval still searched (tested more than once) or above
        # the floor (it may shrink, or grow in the whole-plan check): a day pauses before
        # each, so a later plan agreeing up to it is simulated only from there (forks.py).
        pauses = sorted({s.index for s in searched for plan, _ in tests if plan is not None
                         and (plan[s.index] > floor or len(s.tested) > 1)})
        results = simulations.run(units, progress.done, pauses)
        return [results[i:i + replications] for i in range(0, len(results), replications)]

    (own_results,) = evaluate([(None, None)], "the scenario's own plan")
    own = judge(scenario, own_results)
    load = {e: list(np.mean([r.minute_requests[e] for r in own_results], axis=0))
            for e in own_results[0].minute_requests}
    per = sizing.per
    states = [Interval(i, i * per, min((i + 1) * per, duration), n)
              for i, n in enumerate(estimate(scenario, load))]
    candidates = [s.estimate for s in states]
    plan = tuple(candidates)
    (results,) = evaluate([(plan, None)], "search step 1", states)
    checks = judge(scenario, results)
    last = (plan, checks, results)
    tested = [(state, plan[state.index], check)
              for state, check in zip(states, checks, strict=True)]
    steps = 1
    while True:
        for state, count, check in tested:
            state.tested[count] = check
            _find_bound(state)
        pending = [s.next_count(floor, ceiling) for s in states]
        moving = [(s, p) for s, p in zip(states, pending, strict=True) if p is not None]
        if not moving or steps == MAX_STEPS:
            break
        steps += 1
        # Each interval still searched is tested on a day of its own: the others at their best
        # counts so far, the day cut just after it (its last minute closed) — the hours after
        # it cannot change it, and the hours before it are a checkpoint's (forks.py).
        best = [s.answer(floor, ceiling) for s in states]
        tests: list[tuple[Plan | None, float | None]] = [
            (tuple([*best[:s.index], count, *best[s.index + 1:]]),
             None if s.end >= duration else s.end + 1.0) for s, count in moving]
        batches = evaluate(tests, f"search step {steps}", states)
        tested = [(s, count, judge(scenario, days)[s.index])
                  for (s, count), days in zip(moving, batches, strict=True)]
    for state in states:
        state.instances = state.answer(floor, ceiling)
    assert last is not None
    plan, checks, results = last
    for fix in range(MAX_FIXES + 1):
        if plan != tuple(s.instances for s in states):
            plan = tuple(s.instances for s in states)
            (results,) = evaluate([(plan, None)], f"whole-plan check {fix}", states)
            checks = judge(scenario, results)
        for state, check in zip(states, checks, strict=True):
            state.final = check
            state.tested[state.instances] = check
        failing = [s for s in states if s.final is not None and s.final.failing(s.ignored)
                   and s.instances < ceiling]
        if not failing or fix == MAX_FIXES:  # the plan returned is the plan last simulated
            break
        for state in failing:  # time order: the earlier ones are fixed, this one grows
            state.instances += 1
    return ServerPlan(
        intervals=states, own=own,
        own_instance_hours=float(np.mean([r.instance_hours for r in own_results])),
        instance_hours=float(np.mean([r.instance_hours for r in results])),
        steps=steps, simulated_days=simulated / duration,
        forked_days=simulations.skipped / duration,
        minute_requests=load, own_results=own_results,
        final_results=results)


def _find_bound(state: Interval) -> None:
    """Set aside a latency metric that more instances do not improve (module doc)."""
    failing_counts = sorted(c for c, check in state.tested.items()
                            if check.failing(state.ignored))
    if len(failing_counts) < 2:
        return
    low, high = failing_counts[0], failing_counts[-1]
    if high < low * 1.25:
        return
    for metric in state.tested[high].failing(state.ignored):
        before = state.tested[low].values.get(metric)
        if before and state.tested[high].values[metric] >= NO_HELP * before:
            state.ignored.add(metric)
            state.bound_by[metric] = CAUSES.get(metric.removesuffix(" p99"), OTHER)
    named = [cause for cause in state.bound_by.values() if cause in CAUSES.values()]
    if named:
        # Where the stock lock (or the provider) binds, what else servers do not fix is its
        # doing too: checkout requests queued on a hot row hold workers whatever their count,
        # so every endpoint waits, and the errors are their timeouts — not a service time.
        cause = min(named, key=list(CAUSES.values()).index)
        for metric, other in state.bound_by.items():
            if other == OTHER:
                state.bound_by[metric] = cause

