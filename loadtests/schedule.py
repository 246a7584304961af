"""The open-model schedule of a drill: which shopper starts when, and what they will do.

Locust's model is closed (a number of users) while shoppers arrive open (a rate). So the drill
does what k6's arrival-rate executors do: the session start times are drawn up front from the
scenario's own non-homogeneous Poisson process (``sim.traffic``, same seed), thinned to
``scale`` and compressed ``compress`` times into real time, with each flash sale's audience as
a burst; a pool of Locust users, sized by Little's law with headroom, takes the sessions in
start order and starts each at its time. How well that worked is measured, not assumed.

Nothing here imports Locust: the schedule is plain data, and every process of a distributed
drill computes the same one and takes its share (``index % workers``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from sim.behaviour.audiences import Audience, audiences, bot_name
from sim.behaviour.journeys import FLASH_STEPS, JourneyPlanner
from sim.behaviour.scaling import scaled
from sim.model.streams import spawn_streams
from sim.scenario.schema import ENDPOINTS, FlashSale, Scenario
from sim.traffic import RateCurve

ASSUMED_RESPONSE = 0.25
"""Seconds per request assumed when sizing the user pool (the target's speed is unknown)."""
HEADROOM = 2.0
"""Users per expected concurrent session: slow responses must not starve the schedule."""


@dataclass(frozen=True)
class Visit:
    """One scheduled session."""

    index: int
    start: float
    """Real seconds after the drill's time zero."""
    steps: tuple[str, ...]
    """Journey steps (endpoint names) in order."""
    thinks: tuple[float, ...]
    """Real seconds to wait before each step after the first."""
    shopper: str
    sku: str | None
    sale: int | None = None
    """Index of the flash sale this visit came for."""
    bot: bool = False
    channels: tuple[str, ...] = ()
    """Payment channels in the order this shopper would try them."""


@dataclass
class Plan:
    visits: list[Visit]
    window: tuple[float, float]
    """Simulated seconds after the scenario's start covered by the drill."""
    compress: float
    scale: float
    duration: float
    """Real seconds the schedule spans."""
    users: int = 0
    """Locust users needed (Little's law, with headroom)."""

    def clock_of(self, real: float) -> float:
        """Simulated seconds after the scenario start for a real time of the drill."""
        return self.window[0] + real * self.compress

    def share(self, worker: int, workers: int) -> list[Visit]:
        return [v for v in self.visits if v.index % workers == worker]


def window_of(scenario: Scenario) -> tuple[float, float]:
    clock = scenario.clock
    if scenario.drill.window is None:
        return 0.0, clock.duration
    start, end = scenario.drill.window
    opens, closes = clock.window(start, end)
    return opens, min(closes, clock.duration)


def build_plan(scenario: Scenario, seed: int | None = None) -> Plan:
    """Every visit of the drill, in start order.

    Sessions are planned from the scenario at ``drill.scale`` (``sim.behaviour.scaling``) with
    the model's own random streams and the shared rules (``sim.behaviour``): a drill of the
    whole day at scale 1 plans the very sessions and audiences the model simulates."""
    drill = scenario.drill
    streams = spawn_streams(np.random.SeedSequence(scenario.seed if seed is None else seed))
    model = scaled(scenario)
    w0, w1 = window_of(scenario)
    compress = drill.compress
    times = RateCurve(model.traffic.sessions_per_min, model.clock).arrivals(
        w0, w1, streams["arrivals"])
    visits = _Visits(model, streams, compress)
    starts: list[tuple[float, Visit]] = [(t, visits.regular()) for t in times.tolist()]
    sales = model.promotions.flash_sales if model.promotions else []
    for sale, audience in zip(sales, audiences(model, streams["flash_sales"]), strict=True):
        for buyer, (t, bot, identity) in enumerate(zip(
                audience.times.tolist(), audience.bots.tolist(), audience.identities.tolist(),
                strict=True)):
            if w0 <= t < w1:
                starts.append((t, visits.flash(sale, audience, buyer, bot, identity)))
    starts.sort(key=lambda pair: pair[0])
    plan = Plan([replace(v, index=i, start=(t - w0) / compress)
                 for i, (t, v) in enumerate(starts)],
                (w0, w1), compress, drill.scale, (w1 - w0) / compress)
    plan.users = pool_size(plan.visits)
    return plan


def pool_size(visits: list[Visit]) -> int:
    """Users for the busiest moment: sessions expected to overlap, times the headroom."""
    if not visits:
        return 1
    events = []
    for v in visits:
        length = sum(v.thinks) + ASSUMED_RESPONSE * len(v.steps)
        events += [(v.start, 1), (v.start + length, -1)]
    events.sort()
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return max(1, math.ceil(peak * HEADROOM) + 5)


class _Visits:
    """Visits from the shared plans: endpoint indexes to names, think times compressed."""

    def __init__(self, scenario: Scenario, streams: dict[str, np.random.Generator],
                 compress: float):
        self.scenario = scenario
        self.compress = compress
        self.planner = JourneyPlanner.from_stream(scenario, streams["journeys"])
        self.rng = streams["shoppers"]
        """Think times (drawn as the model draws them: apart from the plans)."""
        self.skus = [s.id for s in scenario.catalog.skus] if scenario.catalog else []
        self.channels = list(scenario.payments.channels) if scenario.payments else []
        self.count = 0

    def _think(self, n: int) -> tuple[float, ...]:
        draws = self.scenario.customers.think_time.sample(self.rng, n)
        return tuple((draws / self.compress).tolist())

    def regular(self) -> Visit:
        self.count += 1
        steps, sku, _value, channels = self.planner.plan()
        return Visit(0, 0.0, tuple(ENDPOINTS[s] for s in steps), self._think(len(steps) - 1),
                     f"s{self.count}", self.skus[sku] if sku is not None else None, None, False,
                     tuple(self.channels[c] for c in channels))

    def flash(self, sale: FlashSale, audience: Audience, buyer: int, bot: bool,
              identity: int) -> Visit:
        self.count += 1
        steps = tuple(ENDPOINTS[s] for s in FLASH_STEPS)
        thinks = (0.0,) * 3 if bot else self._think(3)
        shopper = bot_name(audience.sale, identity) if bot else f"s{self.count}"
        return Visit(0, 0.0, steps, thinks, shopper, sale.sku.id, audience.sale, bot,
                     tuple(self.channels[c] for c in audience.channels(buyer)))
