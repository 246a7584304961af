"""Agent sizing: the fewest agents per interval that meet ``slo.support``, with the servers fixed.

The support queue depends on the platform only through the contacts it generates, so each
replication's day is simulated once, recording its contacts (:func:`record_contacts`); SIPP
and ISA (:mod:`sim.sizing.isa`) then re-run only the contact centre on those recorded days for
every staffing they try (:func:`replay_staffing`) — common random numbers across staffings, and
seconds per try instead of a day. Both are pure functions of their arguments, mapped over the
replications in ``jobs`` processes (the units a distributed executor would run).

``required`` agents answer contacts; ``scheduled`` = ceil(required / (1 - shrinkage)) is whom
to put on the rota so that, after breaks, meetings and absence, ``required`` are on the phones.
The model's ``support.agents`` are agents answering, so the plan's :meth:`AgentPlan.schedule`
is the required one.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.day import simulate_day
from ..model.support import ContactStream, interval_count, replay
from ..scenario.schema import Scenario
from ..scenario.units import DAY, format_clock
from ..summary import tidy
from .isa import (
    Estimate,
    Formula,
    Iteration,
    Judged,
    iterate,
    judge,
    lengths,
    offered_load,
    offered_rates,
)

Progress = Callable[[str, int, int], None]
"""Called with (step, done, total): step is "contacts" (days recorded) or "isa" (iterations)."""


class NothingToSize(ValueError):
    """The scenario has no support section or no support SLO to size agents for."""


def record_contacts(scenario: Scenario, seed: np.random.SeedSequence) -> ContactStream:
    """One replication's day with the scenario's servers: the contacts support receives."""
    return simulate_day(scenario, seed, record_contacts=True).extra["support"]["stream"]


def replay_staffing(scenario: Scenario, stream: ContactStream,
                    agents: Sequence[int]) -> dict[str, list[float]]:
    """The support queue alone on one recorded day, ``agents[i]`` on shift in interval i."""
    per = scenario.sizing.agents.per
    return replay(scenario, stream, [(i * per, int(n)) for i, n in enumerate(agents)],
                  drain=True)


@dataclass(frozen=True)
class AgentRow:
    """One staffing interval of the plan; SLO figures are at ``required`` agents."""

    start: str
    end: str
    offered: float
    """Contacts expected to reach an agent (past the bot)."""
    sipp: int
    required: int
    scheduled: int
    service_level: Estimate
    asa_s: Estimate
    abandon_rate: Estimate
    occupancy: Estimate
    meets: bool
    """Service level and abandonment within the SLO at the worse end of their CI."""
    sipp_service_level: Estimate
    """The service level SIPP's staffing gets in simulation (where ISA changes it, why)."""

    def to_json(self) -> dict[str, object]:
        return {"from": self.start, "to": self.end, "offered": tidy(self.offered),
                "sipp": self.sipp, "required": self.required, "scheduled": self.scheduled,
                "service_level": self.service_level.to_json(), "asa_s": self.asa_s.to_json(),
                "abandon_rate": self.abandon_rate.to_json(),
                "occupancy": self.occupancy.to_json(), "meets": self.meets,
                "sipp_service_level": self.sipp_service_level.to_json()}


@dataclass(frozen=True)
class AgentPlan:
    """Agents per interval: SIPP's, the sized requirement, whom to schedule; hours and cost."""

    rows: list[AgentRow]
    agent_hours: float
    """Scheduled agent-hours (what is paid)."""
    cost: float
    required_agent_hours: float
    sipp_agent_hours: float
    shrinkage: float
    iterations: list[Iteration] = field(default_factory=list)
    times_of_day: list[float] = field(default_factory=list)
    """Clock time of day (seconds) at which each row starts."""

    @property
    def unmet(self) -> list[AgentRow]:
        """Intervals still missing the SLO (only when ISA hit its cap)."""
        return [row for row in self.rows if not row.meets]

    def schedule(self) -> dict[str, int]:
        """``support.agents`` for the plan: required agents from each clock time on.

        A multi-day clock repeats the schedule daily, so each time of day gets the most any day
        needs there; only changes are listed.
        """
        by_time: dict[float, int] = {}
        for tod, row in zip(self.times_of_day, self.rows, strict=True):
            by_time[tod] = max(by_time.get(tod, 0), row.required)
        schedule: dict[str, int] = {}
        last = None
        for tod in sorted(by_time):
            if by_time[tod] != last:
                schedule[format_clock(tod)] = last = by_time[tod]
        return schedule

    def to_json(self) -> dict[str, object]:
        """The agents part of ``sizing.json``."""
        return {"shrinkage": self.shrinkage, "agent_hours": tidy(self.agent_hours),
                "required_agent_hours": tidy(self.required_agent_hours),
                "sipp_agent_hours": tidy(self.sipp_agent_hours), "cost": tidy(self.cost),
                "schedule": self.schedule(),
                "isa": [{"iteration": it.index, "step": it.kind, "agents": list(it.agents),
                         "intervals_missing": it.missed, "wall_s": round(it.wall_s, 3)}
                        for it in self.iterations],
                "intervals": [row.to_json() for row in self.rows]}


def size_agents(scenario: Scenario, seeds: Sequence[np.random.SeedSequence], *,
                jobs: int | None = None, progress: Progress | None = None) -> AgentPlan:
    """Size the agents of ``scenario`` (servers as it states them), one replication per seed."""
    if scenario.support is None:
        raise NothingToSize("nothing to size for agents: the scenario has no support section")
    if scenario.slo is None or scenario.slo.support is None:
        raise NothingToSize("nothing to size for agents: the scenario has no slo.support")
    formula = Formula(scenario)
    with _Executor(jobs, len(seeds)) as executor:
        streams = executor.map(record_contacts, [(scenario, s) for s in seeds],
                               _tick(progress, "contacts", len(seeds)))

        def simulate(agents: Sequence[int]) -> list[dict[str, list[float]]]:
            return executor.map(replay_staffing, [(scenario, s, list(agents)) for s in streams])

        rates = offered_rates(scenario, streams)
        widths = lengths(scenario, len(rates))
        sipp = [formula.fewest(rate) for rate in rates]
        handle = 1.0 / formula.mu
        start = [max(s, formula.fewest(load / handle))
                 for s, load in zip(sipp, offered_load(rates, widths, handle), strict=True)]
        cap = 3 * max(sipp + start + [1]) + 10
        confidence = scenario.sizing.confidence
        staffed = iterate(formula, start, simulate, confidence, cap,
                          None if progress is None else lambda n: progress("isa", n, 0))
        sipp_judged = judge(simulate(sipp), formula.slo, confidence)
    return _plan(scenario, rates * widths, sipp, staffed.agents, staffed.judged, sipp_judged,
                 staffed.iterations)


def _plan(scenario: Scenario, offered: np.ndarray, sipp: list[int], required: list[int],
          judged: list[Judged], sipp_judged: list[Judged],
          iterations: list[Iteration]) -> AgentPlan:
    agents = scenario.sizing.agents
    clock = scenario.clock
    widths = lengths(scenario, interval_count(scenario))
    scheduled = [math.ceil(r / (1 - agents.shrinkage) - 1e-9) for r in required]
    rows = [AgentRow(clock.label(i * agents.per), clock.label(i * agents.per + widths[i]),
                     float(offered[i]), sipp[i], required[i], scheduled[i],
                     j.service_level, j.asa_s, j.abandon_rate, j.occupancy, j.meets,
                     sipp_judged[i].service_level)
            for i, j in enumerate(judged)]
    hours = widths / 3600.0
    agent_hours = float(np.dot(scheduled, hours))
    return AgentPlan(rows, agent_hours, agent_hours * agents.cost_per_agent_hour,
                     float(np.dot(required, hours)), float(np.dot(sipp, hours)),
                     agents.shrinkage, iterations,
                     [(clock.start_time_of_day + i * agents.per) % DAY for i in range(len(rows))])


def _tick(progress: Progress | None, step: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda done: progress(step, done, total)


class _Executor:
    """Maps a unit over argument tuples, in order: inline for one job, else in processes."""

    def __init__(self, jobs: int | None, units: int):
        self.jobs = max(1, min(jobs or os.cpu_count() or 1, units))
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Executor:
        if self.jobs > 1:
            self.pool = ProcessPoolExecutor(self.jobs,
                                            mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def map(self, unit: Callable[..., Any], arguments: Iterable[tuple],
            done: Callable[[int], None] | None = None) -> list[Any]:
        if self.pool is None:
            results = []
            for args in arguments:
                results.append(unit(*args))
                if done is not None:
                    done(len(results))
            return results
        futures = [self.pool.submit(unit, *args) for args in arguments]
        results = []
        for future in futures:
            results.append(future.result())
            if done is not None:
                done(len(results))
        return results
