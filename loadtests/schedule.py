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
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from sim.scenario.schema import Scenario
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
    """Every visit of the drill, in start order."""
    drill = scenario.drill
    seed = scenario.seed if seed is None else seed
    arrivals_rng, journeys_rng = (np.random.default_rng(s)
                                  for s in np.random.SeedSequence(seed).spawn(2))
    w0, w1 = window_of(scenario)
    compress, scale = drill.compress, drill.scale
    scaled = {tod: rate * scale for tod, rate in scenario.traffic.sessions_per_min.items()}
    times = RateCurve(scaled, scenario.clock).arrivals(w0, w1, arrivals_rng)
    planner = _Journeys(scenario, journeys_rng, compress)
    starts: list[tuple[float, Visit]] = [(t, planner.regular()) for t in times.tolist()]
    for index, sale in enumerate(scenario.promotions.flash_sales if scenario.promotions else ()):
        opens = scenario.clock.window(sale.start, sale.end)[0]
        audience = round(sale.audience * scale)
        arrive = opens + sale.arrival_spread.sample(arrivals_rng, audience)
        bots = arrivals_rng.random(audience) < sale.bot_share
        groups = (np.cumsum(bots) - 1) // sale.bot_sessions_per_identity
        for t, bot, group in zip(arrive.tolist(), bots.tolist(), groups.tolist(), strict=True):
            if w0 <= t < w1:
                starts.append((t, planner.flash(index, sale.sku.id, bot, int(group))))
    starts.sort(key=lambda pair: pair[0])
    visits = [Visit(i, (t - w0) / compress, v.steps, v.thinks, v.shopper, v.sku, v.sale, v.bot,
                    v.channels) for i, (t, v) in enumerate(starts)]
    plan = Plan(visits, (w0, w1), compress, scale, (w1 - w0) / compress)
    plan.users = pool_size(visits)
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


class _Journeys:
    """Draws each visit's steps with the segment's funnel, as the simulator's shoppers do."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator, compress: float):
        self.rng = rng
        self.compress = compress
        self.scenario = scenario
        segments = list(scenario.customers.segments.values())
        self.segments = segments
        self.shares = np.cumsum([s.share for s in segments]).tolist()
        catalog = scenario.catalog
        self.skus = [s.id for s in catalog.skus] if catalog else []
        weights = np.array([s.popularity for s in catalog.skus] if catalog else [1.0])
        weights = weights if weights.sum() > 0 else np.ones(len(weights))
        self.popularity = np.cumsum(weights / weights.sum()).tolist()
        payments = scenario.payments
        self.channels = list(payments.channels) if payments else []
        self.channel_shares = [c.share for c in payments.channels.values()] if payments else []
        self.count = 0

    def _think(self, n: int) -> tuple[float, ...]:
        draws = self.scenario.customers.think_time.sample(self.rng, n)
        return tuple((draws / self.compress).tolist())

    def _channels(self) -> tuple[str, ...]:
        if not self.channels:
            return ()
        order = self.rng.choice(len(self.channels), size=len(self.channels), replace=False,
                                p=self.channel_shares)
        return tuple(self.channels[i] for i in order)

    def regular(self) -> Visit:
        rng = self.rng
        self.count += 1
        segment = self.segments[min(bisect_right(self.shares, rng.random()),
                                    len(self.segments) - 1)]
        views = int(segment.product_views.sample(rng, 1)[0])
        steps = ["home", *(["product"] * views)]
        funnel = segment.funnel
        sku = None
        if self.skus:
            sku = self.skus[min(bisect_right(self.popularity, rng.random()), len(self.skus) - 1)]
        if rng.random() < funnel.cart:
            steps.append("cart")
            if rng.random() < funnel.checkout:
                steps.append("checkout")
                if rng.random() < funnel.pay:
                    steps.append("pay")
        return Visit(0, 0.0, tuple(steps), self._think(len(steps) - 1),
                     f"s{self.count}", sku, None, False, self._channels())

    def flash(self, sale: int, sku: str, bot: bool, group: int) -> Visit:
        self.count += 1
        steps = ("product", "cart", "checkout", "pay")
        thinks = (0.0,) * 3 if bot else self._think(3)
        shopper = f"bot{sale}-{group}" if bot else f"s{self.count}"
        return Visit(0, 0.0, steps, thinks, shopper, sku, sale, bot, self._channels())
