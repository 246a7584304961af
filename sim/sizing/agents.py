"""Agent sizing: the fewest agents per interval that meet ``slo.support``, with the servers fixed.

The support queue depends on the platform only through the contacts it generates, so each
replication's day is simulated once, recording its contacts (:func:`record_contacts`); SIPP
and ISA (:mod:`sim.sizing.isa`) then re-run only the contact centre on those recorded days for
every staffing they try (:func:`replay_staffing`) — common random numbers across staffings, and
seconds per try instead of a day. Both are pure functions of their arguments, mapped over the
replications on the sizing's executor (:mod:`sim.executors`: processes or a Dask cluster). When
the server search ran first, its last plan's days already recorded the contacts
(:class:`~sim.sizing.work.Measured`), and none is simulated again.

``required`` agents answer contacts; ``scheduled`` = ceil(required / (1 - shrinkage)) is whom
to put on the rota so that, after breaks, meetings and absence, ``required`` are on the phones.
The model's ``support.agents`` are agents answering, so the plan's :meth:`AgentPlan.schedule`
is the required one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..executors import Executor
from ..model.day import simulate_day
from ..model.support import ContactStream, interval_count, replay
from ..results.summary import tidy
from ..scenario.schema import Scenario
from ..scenario.units import DAY, format_clock
from .isa import (
    Estimate,
    Formula,
    Iteration,
    Judged,
    Replay,
    Staffed,
    iterate,
    judge,
    lengths,
    offered_load,
    offered_rates,
)
from .roster import (
    cheapest_cover,
    cheapest_fix,
    coverage,
    horizon,
    on_the_phones,
    paid_hours,
    shift_options,
)

Progress = Callable[[str, int, int], None]
"""Called with (step, done, total): step is "contacts" or "confirm" (days recorded, of
``total``: the search's own, or the held-out ones) or "isa" (simulated staffings so far;
``total`` 0: not known in advance)."""


class NothingToSize(ValueError):
    """The scenario has no support section or no support SLO to size agents for."""


def record_contacts(scenario: Scenario, seed: np.random.SeedSequence) -> ContactStream:
    """One replication's day with the scenario's servers: the contacts support receives."""
    support = simulate_day(scenario, seed, record_contacts=True).parts.support
    assert support is not None and support.stream is not None, "a scenario with support"
    return support.stream


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
class RosterShift:
    """Agents starting one kind of shift at one clock time."""

    start: str
    hours: float
    agents: int


@dataclass(frozen=True)
class Roster:
    """The cheapest shifts covering the scheduled requirement, confirmed by simulation."""

    shifts: list[RosterShift]
    need: list[int]
    """Scheduled agents each interval needs (the requirement grossed up for shrinkage)."""
    on_shift: list[int]
    on_the_phones: list[int]
    """On shift less shrinkage: the agents the simulation and ``support.agents`` use."""
    judged: list[Judged]
    agent_hours: float
    """Paid hours of the roster (breaks included)."""
    need_agent_hours: float
    added: list[str]
    """Shifts added after the simulation found an interval missing, and why."""

    def to_json(self, rows: Sequence[AgentRow]) -> dict[str, object]:
        return {"shifts": [{"start": s.start, "hours": s.hours, "agents": s.agents}
                           for s in self.shifts],
                "agent_hours": tidy(self.agent_hours),
                "need_agent_hours": tidy(self.need_agent_hours), "added": self.added,
                "intervals": [{"from": row.start, "to": row.end, "need": need, "on_shift": on,
                               "on_the_phones": phones,
                               "service_level": j.service_level.to_json(),
                               "abandon_rate": j.abandon_rate.to_json(), "meets": j.meets}
                              for row, need, on, phones, j in zip(
                                  rows, self.need, self.on_shift, self.on_the_phones,
                                  self.judged, strict=True)]}


@dataclass(frozen=True)
class Confirmation:
    """The sized agents tried on days with seeds of their own (:func:`_confirm`)."""

    days: int
    missed: list[str]
    """Intervals the held-out days' mean missed with the searched agents, and by what."""
    added_agent_hours: float
    """Required agent-hours ISA added on the pooled days because of them."""

    def to_json(self) -> dict[str, object]:
        return {"days": self.days, "missed": self.missed,
                "added_agent_hours": tidy(self.added_agent_hours)}


@dataclass(frozen=True)
class AgentPlan:
    """Agents per interval: SIPP's, the sized requirement, whom to schedule; hours and cost."""

    rows: list[AgentRow]
    agent_hours: float
    """Scheduled agent-hours (what is paid)."""
    cost_per_hour: float
    """``sizing.agents.cost_per_agent_hour``."""
    required_agent_hours: float
    sipp_agent_hours: float
    shrinkage: float
    iterations: list[Iteration] = field(default_factory=list)
    times_of_day: list[float] = field(default_factory=list)
    """Clock time of day (seconds) at which each row starts."""
    roster: Roster | None = None
    """With ``sizing.agents.shifts``: the shifts to staff, which set the schedule."""
    confirmation: Confirmation | None = None
    """What days the search never saw said of its agents (None: not confirmed)."""

    @property
    def paid_hours(self) -> float:
        """Agent-hours paid: the roster's shifts where there is one (a four-hour shift for a
        half-hour's peak), else the scheduled."""
        return self.agent_hours if self.roster is None else self.roster.agent_hours

    @property
    def cost(self) -> float:
        """What the agents cost: the paid agent-hours at the hourly cost."""
        return self.paid_hours * self.cost_per_hour

    @property
    def unmet(self) -> list[AgentRow]:
        """Intervals still missing the SLO (only when ISA hit its cap)."""
        return [row for row in self.rows if not row.meets]

    def schedule(self) -> dict[str, int]:
        """``support.agents`` for the plan: agents answering from each clock time on — the
        required ones, or the roster's on the phones when there is a roster.

        A multi-day clock repeats the schedule daily, so each time of day gets the most any day
        needs there; only changes are listed.
        """
        agents = ([row.required for row in self.rows] if self.roster is None
                  else self.roster.on_the_phones)
        by_time: dict[float, int] = {}
        for tod, n in zip(self.times_of_day, agents, strict=True):
            by_time[tod] = max(by_time.get(tod, 0), n)
        schedule: dict[str, int] = {}
        last = None
        for tod in sorted(by_time):
            if by_time[tod] != last:
                schedule[format_clock(tod)] = last = by_time[tod]
        return schedule

    def to_json(self) -> dict[str, object]:
        """The agents part of ``sizing.json``."""
        return {"shrinkage": self.shrinkage, "agent_hours": tidy(self.agent_hours),
                "paid_agent_hours": tidy(self.paid_hours),
                "required_agent_hours": tidy(self.required_agent_hours),
                "sipp_agent_hours": tidy(self.sipp_agent_hours), "cost": tidy(self.cost),
                "schedule": self.schedule(),
                "isa": [{"iteration": it.index, "step": it.kind, "agents": list(it.agents),
                         "intervals_missing": it.missed}
                        for it in self.iterations],
                "intervals": [row.to_json() for row in self.rows],
                "confirmation": (None if self.confirmation is None
                                 else self.confirmation.to_json()),
                "roster": None if self.roster is None else self.roster.to_json(self.rows)}


def size_agents(scenario: Scenario, seeds: Sequence[np.random.SeedSequence],
                executor: Executor, *, streams: Sequence[ContactStream] | None = None,
                held_out: Sequence[np.random.SeedSequence] = (),
                progress: Progress | None = None) -> AgentPlan:
    """Size the agents of ``scenario`` (servers as it states them), one replication per seed.

    ``streams``: the days' contacts when they were recorded already (by the server search's
    last plan, which is this scenario's; :class:`~sim.sizing.work.Measured`), in seed order.
    ``held_out``: seeds of days the search does not see, on which its agents are confirmed
    (:func:`_confirm`).
    """
    if scenario.support is None:
        raise NothingToSize("nothing to size for agents: the scenario has no support section")
    if scenario.slo is None or scenario.slo.support is None:
        raise NothingToSize("nothing to size for agents: the scenario has no slo.support")
    formula = Formula(scenario)
    if streams is None:
        streams = executor.map(record_contacts, [(scenario, s) for s in seeds],
                               _tick(progress, "contacts", len(seeds)))
    if len(streams) != len(seeds):
        raise ValueError(f"{len(streams)} recorded days for {len(seeds)} seeds")

    simulate = _replays(scenario, streams, executor)
    rates = offered_rates(scenario, streams)
    widths = lengths(scenario, len(rates))
    sipp = [formula.fewest(rate) for rate in rates]
    handle = 1.0 / formula.mu
    start = [max(s, formula.fewest(load / handle))
             for s, load in zip(sipp, offered_load(rates, widths, handle), strict=True)]
    cap = caps(scenario, streams, 3 * max(sipp + start + [1]) + 10)
    confidence = scenario.sizing.confidence
    staffed = iterate(formula, start, simulate, confidence, cap,
                      None if progress is None else lambda n: progress("isa", n, 0))
    confirmation = None
    if held_out:
        staffed, confirmation, pooled = _confirm(scenario, formula, staffed, streams, held_out,
                                                 executor, cap, progress)
        simulate = _replays(scenario, pooled, executor)
    sipp_judged = judge(simulate(sipp), formula.slo, confidence)
    plan = _plan(scenario, rates * widths, sipp, staffed.agents, staffed.judged,
                 sipp_judged, staffed.iterations, confirmation)
    if scenario.sizing.agents.shifts is None:
        return plan
    return replace(plan, roster=_roster(scenario, formula,
                                        [row.scheduled for row in plan.rows], simulate))


def caps(scenario: Scenario, streams: Sequence[ContactStream], least: int) -> list[int]:
    """Per interval, the agents past which ISA stops: ``least``, or enough for every contact
    offered in the interval and the one before it on the busiest day to be answered at once.

    Why the contacts and not a multiple of the formula's answer: a burst is not what the
    formula sees — on double11 with the flash sale served, some 750 losers of the sale reach
    an agent within seconds of 20:00, where the half-hour's rate asks for 113.
    """
    per = scenario.sizing.agents.per
    count = interval_count(scenario)
    offered = np.max([np.bincount(np.minimum(s.arrived // per, count - 1).astype(int),
                                  minlength=count) for s in streams], axis=0)
    recent = offered + np.concatenate([[0], offered[:-1]])
    return [max(least, int(n)) for n in recent]


def _replays(scenario: Scenario, streams: Sequence[ContactStream],
             executor: Executor) -> Replay:
    """The support queue alone on each recorded day, for one staffing at a time."""

    def simulate(agents: Sequence[int]) -> list[dict[str, list[float]]]:
        return executor.map(replay_staffing, [(scenario, s, list(agents)) for s in streams])

    return simulate


def _confirm(scenario: Scenario, formula: Formula, staffed: Staffed,
             streams: Sequence[ContactStream], held_out: Sequence[np.random.SeedSequence],
             executor: Executor, cap: list[int], progress: Progress | None
             ) -> tuple[Staffed, Confirmation, list[ContactStream]]:
    """The sized agents on days the search never saw, then ISA on all the days pooled.

    Why: the search judges each interval at the worse end of a confidence interval over a few
    replications, but a half-hour of a few hundred contacts has rare bad days (a burst that
    leaves a backlog) which five days may not contain, and then their spread is understated
    too. The held-out days are judged as ``simulate --check`` judges a plan (the mean over
    the days per interval) and what they miss is reported; then ISA carries on from the sized
    agents on all the days pooled (never fewer agents than sized), judging each interval as a
    check will: at the worse end of the prediction interval of the mean of another
    ``len(streams)`` days.
    The days' contacts are recorded with the plan's servers; the returned streams are the
    pooled ones, on which everything after (SIPP's figures, the roster) is judged.
    """
    confidence = scenario.sizing.confidence
    extra = executor.map(record_contacts, [(scenario, s) for s in held_out],
                         _tick(progress, "confirm", len(held_out)))
    # Judged at confidence 0, whose interval is the mean itself: the check's rule.
    seen = judge(_replays(scenario, extra, executor)(staffed.agents), formula.slo, 0.0)
    per, clock = scenario.sizing.agents.per, scenario.clock
    missed = [f"{clock.label(i * per)}: service level {j.service_level.mean:.1%}, abandonment "
              f"{j.abandon_rate.mean:.1%} (mean of {len(extra)} held-out days) with "
              f"{staffed.agents[i]} agents"
              for i, j in enumerate(seen) if not j.meets]
    pooled = [*streams, *extra]
    done = len(staffed.iterations)
    again = iterate(formula, staffed.agents, _replays(scenario, pooled, executor), confidence, cap,
                    None if progress is None else lambda n: progress("isa", done + n, 0),
                    future=len(streams))
    iterations = [*staffed.iterations,
                  *(replace(it, index=done + it.index, kind=f"pooled {it.kind}")
                    for it in again.iterations)]
    widths = lengths(scenario, len(again.agents))
    added = float(np.dot(np.subtract(again.agents, staffed.agents), widths)) / 3600
    return (Staffed(again.agents, again.judged, iterations),
            Confirmation(len(extra), missed, added), pooled)


MAX_FIXES = 40
"""Shifts the roster's confirmation may add before it reports what still misses."""


def _roster(scenario: Scenario, formula: Formula, scheduled: list[int],
            simulate: Replay) -> Roster:
    """The cheapest cover of ``scheduled``, simulated; a missed interval gets the cheapest
    shift covering it, until none misses (or ``MAX_FIXES``)."""
    sizing = scenario.sizing.agents
    assert sizing.shifts is not None
    clock = scenario.clock
    space = horizon(scenario, len(scheduled))
    options = shift_options(sizing.shifts, space, clock.start_time_of_day)
    agents = cheapest_cover(space.fold(scheduled), options, sizing.shifts.max_per_start)
    added: list[str] = []
    while True:
        on_shift = space.unfold(coverage(agents, options, space.slots), len(scheduled))
        phones = [on_the_phones(n, sizing.shrinkage) for n in on_shift]
        judged = judge(simulate(phones), formula.slo, scenario.sizing.confidence)
        missed = [i for i, j in enumerate(judged) if not j.meets]
        if not missed or len(added) >= MAX_FIXES:
            break
        i = missed[0]
        j = cheapest_fix(options, i % space.slots, space.slots)
        agents[j] += 1
        added.append(f"{clock.label(i * sizing.per)}: service level "
                     f"{judged[i].service_level.low:.1%} (worse end) on the roster; added one "
                     f"{options[j].slots * sizing.per / 3600:g} h shift from "
                     f"{_start(clock.start_time_of_day, options[j].start, sizing.per)}")
    shifts = [RosterShift(_start(clock.start_time_of_day, o.start, sizing.per),
                          o.slots * sizing.per / 3600, n)
              for o, n in zip(options, agents, strict=True) if n]
    widths = lengths(scenario, len(scheduled))
    return Roster(shifts, scheduled, on_shift, phones, judged,
                  paid_hours(agents, options, sizing.per) * len(scheduled) / space.slots
                  if space.cyclic else paid_hours(agents, options, sizing.per),
                  float(np.dot(scheduled, widths)) / 3600, added)


def _start(start_time_of_day: float, slot: int, per: float) -> str:
    return format_clock((start_time_of_day + slot * per) % DAY)


def _plan(scenario: Scenario, offered: np.ndarray, sipp: list[int], required: list[int],
          judged: list[Judged], sipp_judged: list[Judged],
          iterations: list[Iteration], confirmation: Confirmation | None) -> AgentPlan:
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
    return AgentPlan(rows, agent_hours, agents.cost_per_agent_hour,
                     float(np.dot(required, hours)), float(np.dot(sipp, hours)),
                     agents.shrinkage, iterations,
                     [(clock.start_time_of_day + i * agents.per) % DAY for i in range(len(rows))],
                     confirmation=confirmation)


def _tick(progress: Progress | None, step: str, total: int) -> Callable[[int], None] | None:
    """An executor's ``done(index)`` as (step, units done so far, total)."""
    if progress is None:
        return None
    finished = 0

    def done(_index: int) -> None:
        nonlocal finished
        finished += 1
        progress(step, finished, total)

    return done
