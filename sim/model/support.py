"""Customer service: contacts, the bot, a FIFO queue to the agents on shift, abandonment.

Contacts come from orders (after a delay), from shoppers whose last payment attempt failed,
from flash-sale misses, and at a baseline Poisson rate (a number or a step schedule). The bot
resolves a share; the rest wait FIFO for an agent. The agent count follows the schedule (a step
function of the time of day, repeating daily); when a shift ends, agents finish the contact in
hand. A waiting customer abandons when their patience runs out.

The model is split where sizing needs it split. :class:`Support` decides who contacts support
and draws everything about a contact when it arrives (bot or not, handle time, patience), so a
contact is the same whatever the staffing; :class:`ContactCentre` is the queue and the agents.
With the servers fixed, the contacts of a day do not depend on the agents, so sizing records
them once (:class:`ContactStream`) and re-runs only the centre for each staffing it tries
(:func:`replay`) — the same code, the same numbers as in the day, in a fraction of a second.

Figures are kept per interval (``sizing.agents.per``) by the contact's arrival time, as
call-centre reports do: offered, deflected, answered, abandoned, answered within
``answer_within``, waits, and busy and at-work agent-seconds (occupancy).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from ..scenario.distributions import Exponential
from ..scenario.schedule import StepSchedule
from ..scenario.schema import Scenario
from . import calendar
from .streams import pool, uniforms
from .wakeup import later

SOURCES = ("order", "payment_failure", "flash_sale_miss", "baseline")
WAITING, ANSWERED, ABANDONED = 0, 1, 2
FIGURES = ("contacts", "deflected", "offered", "answered", "abandoned", "waited",
           "within_target", "wait_answered_s", "busy_s", "staffed_s")
"""Per-interval figures. ``staffed_s`` is agent time at work: on shift, or past the end of a
shift finishing a contact (so busy time never exceeds it and occupancy stays <= 100%)."""
_UNIT_GAP = Exponential(1.0)

Staffing = Sequence[tuple[float, int]]
"""Agents from each simulated time on: (time, agents), in time order, the first at 0."""


@dataclass(slots=True)
class Contact:
    arrived: float
    interval: int
    handle: float
    state: int = WAITING


@dataclass(frozen=True)
class ContactStream:
    """What the support queue sees of one replicated day, independent of the staffing.

    Offered contacts (those the bot did not resolve) in arrival order with their drawn handle
    time and patience (``inf``: never abandons); per interval the contacts before the bot, the
    deflected ones, and the contacts *expected* there: each chance of a contact counted at its
    probability, the baseline at its rate — the smooth forecast a planner staffs to.
    """

    arrived: np.ndarray
    handle: np.ndarray
    patience: np.ndarray
    contacts: np.ndarray
    deflected: np.ndarray
    expected: np.ndarray


class ContactCentre:
    """The FIFO queue and the agents on shift; per-interval figures by arrival interval."""

    def __init__(self, env: simpy.Environment, per: float, answer_within: float,
                 intervals: int, staffing: Staffing):
        self.env = env
        self.per = per
        self.answer_within = answer_within
        self.queue: deque[Contact] = deque()
        self.waiting = 0
        self.busy = 0
        self.agents = int(staffing[0][1])
        self.figures: dict[str, list[float]] = {name: [0.0] * intervals for name in FIGURES}
        self.abandoned_this_minute = 0
        self._last = 0.0
        for at, agents in staffing[1:]:
            # Scheduled from time 0, so a change falls on exactly its time in every run.
            later(env, at - env.now, self._set_agents, int(agents))

    def _set_agents(self, event) -> None:
        self._accumulate()
        self.agents = event._value
        self._pull()

    def _accumulate(self) -> None:
        """Add busy and at-work agent-seconds since the last change, split by interval."""
        now, t = self.env.now, self._last
        at_work = max(self.agents, self.busy)
        last = len(self.figures["busy_s"]) - 1
        while t < now:
            index = min(int(t // self.per), last)  # after the clock: the slot past the end
            end = now if index == last else min(now, (index + 1) * self.per)
            self.figures["busy_s"][index] += self.busy * (end - t)
            self.figures["staffed_s"][index] += at_work * (end - t)
            t = end
        self._last = now

    def offer(self, handle: float, patience: float) -> None:
        """A contact the bot did not resolve arrives now."""
        now = self.env.now
        interval = int(now // self.per)
        figures = self.figures
        figures["offered"][interval] += 1
        contact = Contact(now, interval, handle)
        if self.busy < self.agents:
            self._answer(contact)
            return
        figures["waited"][interval] += 1
        self.queue.append(contact)
        self.waiting += 1
        if patience != math.inf:
            later(self.env, patience, self._abandon, contact)

    def _abandon(self, event) -> None:
        contact: Contact = event._value
        if contact.state == WAITING:
            contact.state = ABANDONED
            self.waiting -= 1
            self.abandoned_this_minute += 1
            self.figures["abandoned"][contact.interval] += 1

    def _answer(self, contact: Contact) -> None:
        self._accumulate()
        contact.state = ANSWERED
        self.busy += 1
        wait = self.env.now - contact.arrived
        figures, interval = self.figures, contact.interval
        figures["answered"][interval] += 1
        figures["wait_answered_s"][interval] += wait
        if wait <= self.answer_within:
            figures["within_target"][interval] += 1
        later(self.env, contact.handle, self._done)

    def _done(self, _event: object) -> None:
        self._accumulate()
        self.busy -= 1
        self._pull()

    def _pull(self) -> None:
        while self.queue and self.busy < self.agents:
            contact = self.queue.popleft()
            if contact.state == WAITING:
                self.waiting -= 1
                self._answer(contact)

    def finish(self, intervals: int) -> dict[str, list[float]]:
        """Per-interval figures of the first ``intervals`` intervals."""
        self._accumulate()
        return {name: column[:intervals] for name, column in self.figures.items()}


def answer_within(scenario: Scenario) -> float:
    """The service-level threshold: the SLO's, else the common 20 s."""
    slo = scenario.slo.support if scenario.slo and scenario.slo.support else None
    return slo.answer_within if slo else 20.0


def interval_count(scenario: Scenario) -> int:
    """Staffing intervals over the clock (the last may be partial)."""
    return math.ceil(scenario.clock.duration / scenario.sizing.agents.per)


class Support:
    """The contacts of one replication, and the contact centre they go to."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, rng: np.random.Generator,
                 on_contact: Callable[[], None] | None = None, record: bool = False):
        spec = scenario.support
        assert spec is not None
        self.env = env
        self.spec = spec
        self.per = scenario.sizing.agents.per
        self.duration = scenario.clock.duration
        self._handle = pool(spec.handle_time, rng)
        self._patience = pool(spec.patience, rng) if spec.patience is not None else None
        self._after_order = pool(spec.contacts.after_order, rng)
        self._later = calendar.Calendar(env, calendar.LATER_WIDTH)
        """Delayed contacts (an hour after an order) wait out of SimPy's heap until nearly
        due."""
        self._uniform = uniforms(rng)
        self._gap = pool(_UNIT_GAP, rng)
        start = scenario.clock.start_time_of_day
        self._baseline = StepSchedule(spec.contacts.baseline_per_hour, start)
        self._on_contact = on_contact
        self.by_source = dict.fromkeys(SOURCES, 0)
        self.schedule = StepSchedule(spec.agents, start)
        slots = math.ceil(self.duration / self.per) + 1
        self.expected = [0.0] * slots
        staffing = [(0.0, self.schedule.at(0.0))] + [
            (t, n) for t, _, n in self.schedule.changes(self.duration) if t < self.duration]
        self.centre = ContactCentre(env, self.per, answer_within(scenario), slots, staffing)
        self._record: list[tuple[float, float, float]] | None = [] if record else None
        self._next_baseline()

    @property
    def agents(self) -> int:
        return self.centre.agents

    @property
    def waiting(self) -> int:
        return self.centre.waiting

    def agents_at(self, t: float) -> int:
        """Agents the schedule puts on shift at simulated time ``t``."""
        return self.schedule.at(t)

    # -- contacts ----------------------------------------------------------------------------
    def maybe_contact(self, source: str, probability: float, delay: float = 0.0) -> None:
        """With ``probability``, this customer contacts support after ``delay``."""
        slot = int((self.env.now + delay) // self.per)
        if slot < len(self.expected):
            self.expected[slot] += probability
        if probability and self._uniform() < probability:
            if delay:
                self._later.later(delay, lambda _: self.contact(source))
            else:
                self.contact(source)

    def after_order(self) -> None:
        self.maybe_contact("order", self.spec.contacts.per_order, self._after_order())

    def _next_baseline(self, _event: object = None) -> None:
        """Poisson at the scheduled rate: a gap that would cross a rate change is drawn anew
        from the change (exact, as exponential gaps forget how long they have run)."""
        now = self.env.now
        rate = self._baseline.at(now)
        change = self._baseline.next_change(now)
        gap = self._gap() * 3600.0 / rate if rate > 0 else math.inf
        if now + gap <= change:
            later(self.env, gap, self._baseline_contact)
        elif change < self.duration:
            later(self.env, change - now, self._next_baseline)

    def _baseline_contact(self, _event: object) -> None:
        self.contact("baseline")
        self._next_baseline()

    def contact(self, source: str) -> None:
        centre = self.centre
        interval = int(self.env.now // self.per)
        self.by_source[source] += 1
        centre.figures["contacts"][interval] += 1
        if self._on_contact is not None:
            self._on_contact()
        if self.spec.bot_deflection and self._uniform() < self.spec.bot_deflection:
            centre.figures["deflected"][interval] += 1
            return
        handle = self._handle()
        patience = self._patience() if self._patience is not None else math.inf
        if self._record is not None:
            self._record.append((self.env.now, handle, patience))
        centre.offer(handle, patience)

    def take_abandoned(self) -> int:
        """Abandonments since the last call (the minute series' abandoned)."""
        abandoned, self.centre.abandoned_this_minute = self.centre.abandoned_this_minute, 0
        return abandoned

    def finish(self, intervals: int) -> dict[str, list[float]]:
        """Per-interval figures of the first ``intervals`` intervals."""
        return self.centre.finish(intervals)

    def stream(self, intervals: int) -> ContactStream:
        """The recorded contacts (``record=True``) of the first ``intervals`` intervals."""
        assert self._record is not None
        records = np.array(self._record, dtype=float).reshape(-1, 3)
        figures = self.centre.figures
        expected = np.array([self.expected[i] + self._baseline.integral(
            i * self.per, min((i + 1) * self.per, self.duration)) / 3600.0
            for i in range(intervals)])
        return ContactStream(records[:, 0], records[:, 1], records[:, 2],
                             np.array(figures["contacts"][:intervals]),
                             np.array(figures["deflected"][:intervals]), expected)


def replay(scenario: Scenario, stream: ContactStream, staffing: Staffing,
           drain: bool = False) -> dict[str, list[float]]:
    """The contact centre alone on a recorded day, with another staffing: the day's figures.

    Every contact is scheduled from time 0, as the day's own schedule changes are, so with the
    scenario's own staffing the figures equal the day's to the last bit. ``drain`` goes on
    past the clock's end until every waiting contact is answered or gone (the last agents
    stay), so contacts arriving just before the end are judged by their whole wait.
    """
    env = simpy.Environment()
    per = scenario.sizing.agents.per
    intervals = interval_count(scenario)
    centre = ContactCentre(env, per, answer_within(scenario), intervals + 1, staffing)
    offer = centre.offer
    for arrived, handle, patience in zip(stream.arrived.tolist(), stream.handle.tolist(),
                                         stream.patience.tolist(), strict=True):
        later(env, arrived, lambda _e, h=handle, p=patience: offer(h, p))  # type: ignore[misc]
    env.run(until=scenario.clock.duration)
    if drain:
        env.run()
    figures = centre.finish(intervals)
    figures["contacts"] = stream.contacts.tolist()
    figures["deflected"] = stream.deflected.tolist()
    return figures
