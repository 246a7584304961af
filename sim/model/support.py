"""Customer service: contacts, the bot, a FIFO queue to the agents on shift, abandonment.

Contacts come from orders (after a delay), from shoppers whose last payment attempt failed,
from flash-sale misses, and at a baseline Poisson rate. The bot resolves a share; the rest
wait FIFO for an agent. The agent count follows the schedule (a step function of the time of
day, repeating daily); when a shift ends, agents finish the contact in hand. A waiting
customer abandons when their patience runs out.

Figures are kept per interval (``sizing.agents.per``) by the contact's arrival time, as
call-centre reports do: offered, deflected, answered, abandoned, answered within
``answer_within``, waits, and busy and staffed agent-seconds (occupancy).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from ..scenario.distributions import Exponential
from ..scenario.schema import Scenario
from ..scenario.units import DAY
from .streams import Pool, Uniforms
from .wakeup import later

SOURCES = ("order", "payment_failure", "flash_sale_miss", "baseline")
WAITING, ANSWERED, ABANDONED = 0, 1, 2
FIGURES = ("contacts", "deflected", "offered", "answered", "abandoned", "waited",
           "within_target", "wait_answered_s", "busy_s", "staffed_s")


@dataclass(slots=True)
class Contact:
    arrived: float
    interval: int
    state: int = WAITING


class Support:
    """The contact centre of one replication."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, rng: np.random.Generator,
                 on_contact: Callable[[], None] | None = None):
        spec = scenario.support
        assert spec is not None
        self.env = env
        self.spec = spec
        slo = scenario.slo.support if scenario.slo and scenario.slo.support else None
        self.answer_within = slo.answer_within if slo else 20.0
        self.per = scenario.sizing.agents.per
        self._handle = Pool(spec.handle_time, rng)
        self._patience = Pool(spec.patience, rng) if spec.patience is not None else None
        self._after_order = Pool(spec.contacts.after_order, rng)
        self._uniform = Uniforms(rng)
        baseline = spec.contacts.baseline_per_hour
        self._gap = Pool(Exponential(3600.0 / baseline), rng) if baseline > 0 else None
        self._on_contact = on_contact
        self.queue: deque[Contact] = deque()
        self.waiting = 0
        self.busy = 0
        self.agents = 0
        self.by_source = dict.fromkeys(SOURCES, 0)
        intervals = math.ceil(scenario.clock.duration / self.per) + 1
        self.figures: dict[str, list[float]] = {name: [0.0] * intervals for name in FIGURES}
        self.abandoned_this_minute = 0
        self._last = 0.0
        clock = scenario.clock
        self._shifts = sorted((clock.offset(tod) % DAY, n) for tod, n in spec.agents.items())
        self._set_agents(self.agents_at(0.0))
        env.process(self._schedule())
        if self._gap is not None:
            later(env, self._gap(), self._baseline)

    # -- agents ------------------------------------------------------------------------------
    def agents_at(self, t: float) -> int:
        """Agents the schedule puts on shift at simulated time ``t``."""
        into = t % DAY
        on = [n for offset, n in self._shifts if offset <= into]
        return on[-1] if on else self._shifts[-1][1]

    def _schedule(self):
        day = 0
        while True:
            for offset, agents in self._shifts:
                at = day * DAY + offset
                if at > self.env.now:
                    yield self.env.timeout(at - self.env.now)
                    self._set_agents(agents)
            day += 1

    def _set_agents(self, agents: int) -> None:
        self._accumulate()
        self.agents = agents
        self._pull()

    def _accumulate(self) -> None:
        """Add busy and staffed agent-seconds since the last change, split by interval."""
        now, t = self.env.now, self._last
        while t < now:
            index = int(t // self.per)
            end = min(now, (index + 1) * self.per)
            self._bump(index, "busy_s", self.busy * (end - t))
            self._bump(index, "staffed_s", self.agents * (end - t))
            t = end
        self._last = now

    def _bump(self, interval: int, figure: str, amount: float = 1.0) -> None:
        self.figures[figure][interval] += amount

    # -- contacts ----------------------------------------------------------------------------
    def maybe_contact(self, source: str, probability: float, delay: float = 0.0) -> None:
        """With ``probability``, this customer contacts support after ``delay``."""
        if probability and self._uniform() < probability:
            if delay:
                later(self.env, delay, lambda _: self.contact(source))
            else:
                self.contact(source)

    def after_order(self) -> None:
        self.maybe_contact("order", self.spec.contacts.per_order, self._after_order())

    def _baseline(self, _event: object) -> None:
        self.contact("baseline")
        later(self.env, self._gap(), self._baseline)

    def contact(self, source: str) -> None:
        now = self.env.now
        interval = int(now // self.per)
        self.by_source[source] += 1
        self._bump(interval, "contacts")
        if self._on_contact is not None:
            self._on_contact()
        if self.spec.bot_deflection and self._uniform() < self.spec.bot_deflection:
            self._bump(interval, "deflected")
            return
        self._bump(interval, "offered")
        contact = Contact(now, interval)
        if self.busy < self.agents:
            self._answer(contact)
            return
        self._bump(interval, "waited")
        self.queue.append(contact)
        self.waiting += 1
        if self._patience is not None:
            later(self.env, self._patience(), self._abandon, contact)

    def _abandon(self, event) -> None:
        contact: Contact = event._value
        if contact.state == WAITING:
            contact.state = ABANDONED
            self.waiting -= 1
            self.abandoned_this_minute += 1
            self._bump(contact.interval, "abandoned")

    def _answer(self, contact: Contact) -> None:
        self._accumulate()
        contact.state = ANSWERED
        self.busy += 1
        wait = self.env.now - contact.arrived
        self._bump(contact.interval, "answered")
        self._bump(contact.interval, "wait_answered_s", wait)
        if wait <= self.answer_within:
            self._bump(contact.interval, "within_target")
        later(self.env, self._handle(), self._done)

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

    def take_abandoned(self) -> int:
        """Abandonments since the last call (the minute series' abandoned)."""
        abandoned, self.abandoned_this_minute = self.abandoned_this_minute, 0
        return abandoned

    def finish(self, intervals: int) -> dict[str, list[float]]:
        """Per-interval figures of the first ``intervals`` intervals."""
        self._accumulate()
        return {name: column[:intervals] for name, column in self.figures.items()}
