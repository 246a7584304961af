"""The sizing search's work units: one simulated day of one plan with one seed.

Every simulation the search runs is :func:`simulate_plan` — a pure function of (scenario,
plan, seed) returning a small picklable :class:`Measured` — so any executor
(:mod:`sim.executors`: this process, a process pool, a Dask cluster) can run the units in any
order on any machine and the search sees the same numbers. Units of one search step are
submitted together; replication ``r`` of every candidate plan gets the same seed (common
random numbers), so two plans are compared on the same shoppers and the difference is the
plan's, not the dice's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..executors import Executor
from ..metrics import Histogram
from ..model.day import DayRun
from ..model.observer import MINUTE, Observation
from ..model.support import ContactStream
from ..scenario.schedule import StepSchedule
from ..scenario.schema import ENDPOINTS, Scenario
from ..scenario.units import DAY

Plan = tuple[int, ...]
"""Instances serving in each sizing interval, in time order."""


@dataclass(frozen=True)
class Measured:
    """What the search needs from one simulated day, per sizing interval."""

    latency: list[dict[str, Histogram]]
    """Per interval, each endpoint's latencies (endpoints with requests only)."""
    requests: list[int]
    errors: list[int]
    minute_requests: dict[str, list[float]]
    """Requests per endpoint per minute (the load the analytic estimate starts from)."""
    instance_hours: float
    support: dict[str, list[float]] | None
    """Per staffing interval, the support figures (to judge the scenario's own agents)."""
    contacts: ContactStream | None
    """The contacts support received (when agents are sized): the sized server plan's days
    are the agents search's recorded days, so they are not simulated a second time."""


def sizes_agents(scenario: Scenario) -> bool:
    """Whether ``peakday size`` sizes agents too (a support section and a support SLO)."""
    return (scenario.support is not None and scenario.slo is not None
            and scenario.slo.support is not None)


def intervals(scenario: Scenario) -> int:
    """Sizing intervals of the run (the last one may be short)."""
    return math.ceil(scenario.clock.duration / scenario.sizing.servers.per - 1e-9)


def with_plan(scenario: Scenario, plan: Plan | None) -> Scenario:
    """The scenario with ``plan`` as a fixed instance schedule (autoscaling off)."""
    if plan is None:
        return scenario
    per = scenario.sizing.servers.per
    start = scenario.clock.start_time_of_day
    schedule = {(start + i * per) % DAY: n for i, n in enumerate(plan)}
    platform = scenario.platform
    auto = platform.autoscaling.model_copy(update={"enabled": False, "min": 1})
    # Always a schedule, even when constant: every interval's count is then a step of the
    # model's instance schedule, which a day paused before it may still change (forks.py).
    fixed = platform.model_copy(update={"instances": schedule, "autoscaling": auto})
    return scenario.model_copy(update={"platform": fixed})


def instance_schedule(scenario: Scenario, plan: Plan) -> StepSchedule[int]:
    """``plan`` as the model reads ``platform.instances`` (for ``InstanceSchedule.replan``)."""
    platform = with_plan(scenario, plan).platform
    return StepSchedule(platform.instances, scenario.clock.start_time_of_day)


def simulate_plan(scenario: Scenario, plan: Plan | None, seed: np.random.SeedSequence,
                  until: float | None = None) -> Measured:
    """One day of ``plan`` (``None``: the scenario's own platform) with one seed, cut short at
    ``until`` if given (the intervals after it are then empty)."""
    day = DayRun(with_plan(scenario, plan), seed, record_contacts=sizes_agents(scenario))
    return measure(scenario, day.finish(until))


def measure(scenario: Scenario, obs: Observation) -> Measured:
    """What the search reads of a simulated day (``obs``) of ``scenario``, whole or cut short."""
    support = obs.parts.support
    per_hours = round(scenario.sizing.servers.per / 3600)
    count = intervals(scenario)
    latency: list[dict[str, Histogram]] = []
    for i in range(count):
        merged: dict[str, Histogram] = {}
        for hour in obs.hourly_latency[i * per_hours:(i + 1) * per_hours]:
            for endpoint, hist in hour.items():
                if endpoint != "all" and hist.count:
                    merged.setdefault(endpoint, Histogram()).merge(hist)
        latency.append(merged)
    per_minutes = per_hours * round(3600 / MINUTE)
    first = math.ceil(scenario.clock.warmup / MINUTE)
    measured = obs.series["minute"] >= first
    requests = np.where(measured, obs.series["requests"], 0)
    errors = np.where(measured, obs.series["errors"], 0)
    return Measured(
        latency=latency,
        requests=[int(requests[i * per_minutes:(i + 1) * per_minutes].sum())
                  for i in range(count)],
        errors=[int(errors[i * per_minutes:(i + 1) * per_minutes].sum()) for i in range(count)],
        minute_requests={e: obs.series[f"requests_{e}"].tolist() for e in ENDPOINTS
                         if f"requests_{e}" in obs.series},
        instance_hours=obs.counters["instance_hours"],
        support=support.intervals if support is not None else None,
        contacts=support.stream if support is not None else None,
    )


Unit = tuple[Plan | None, int, float | None]
"""A plan, a replication index and where the day may stop (``None``: at its end): what one
worker simulates."""


def length(scenario: Scenario, unit: Unit) -> float:
    """The simulated seconds a unit covers."""
    until = unit[2]
    return scenario.clock.duration if until is None else min(until, scenario.clock.duration)


class Days(Protocol):
    """What runs the search's units: whole days on an executor (:class:`Simulations`), or
    days forked where the plans part (:class:`~sim.sizing.forks.ForkedSimulations`)."""

    skipped: float
    """Simulated seconds the units did not simulate again (forked from a checkpoint)."""

    def run(self, units: Sequence[Unit], done: Callable[[], None] | None = None,
            pauses: Sequence[int] = ()) -> list[Measured]:
        """Simulate every unit; results in the order of ``units``. ``pauses``: the intervals
        later plans may change, where a day may leave a checkpoint."""
        ...


class Simulations:
    """Runs the search's units on an executor (:mod:`sim.executors`), seeds fixed per index:
    every unit a whole day (``pauses`` unused), as on a cluster."""

    skipped = 0.0

    def __init__(self, scenario: Scenario, seeds: Sequence[np.random.SeedSequence],
                 executor: Executor):
        self.scenario = scenario
        self.seeds = list(seeds)
        self.executor = executor

    def run(self, units: Sequence[Unit], done: Callable[[], None] | None = None,
            pauses: Sequence[int] = ()) -> list[Measured]:
        """Simulate every unit; results in the order of ``units``."""
        return self.executor.map(
            simulate_plan, [(self.scenario, plan, self.seeds[rep], until)
                            for plan, rep, until in units],
            None if done is None else lambda _index: done())
