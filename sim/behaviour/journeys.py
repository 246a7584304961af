"""Journey planning: what a session will do, decided when it arrives.

A regular session picks its segment by share, views a number of products, looks at one SKU
(by popularity) and walks the segment's nested funnel: cart with P(cart), then checkout with
P(checkout | cart), then pay with P(pay | checkout). A session that puts the SKU in its cart
is worth the basket value (the segment's ``basket_value`` draw, else the SKU's price); one that
reaches pay has a preference order over the payment channels (see :mod:`.retries`).

Sessions are planned ``BATCH`` at a time, with numpy, from the "journeys" stream alone; the
model and the drill take the plans one by one in the same order (:meth:`JourneyPlanner.plan`),
so one seed plans the same sessions on both sides. Planning session by session in Python cost
about a microsecond and a half each, some 6% of a double11 day. A batch draws, in this order:
a uniform per session for its segment (with more than one segment), each segment's product
views for its sessions, a uniform per session for its SKU (with a catalog), then uniforms for
cart, checkout and pay, each segment's basket values for its carted sessions, and one uniform
per channel for each paying session. A draw no segment needs (a funnel probability of 0
everywhere, no catalog, no payments) is not made.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from itertools import chain, repeat

import numpy as np

from ..scenario.distributions import Distribution
from ..scenario.schema import ENDPOINTS, Scenario
from .retries import channel_shares, preference_orders

HOME, PRODUCT, CART, CHECKOUT, PAY = (ENDPOINTS.index(e)
                                      for e in ("home", "product", "cart", "checkout", "pay"))
FLASH_STEPS = (PRODUCT, CART, CHECKOUT, PAY)
"""A flash-sale buyer goes straight to the deal."""
BATCH = 4096
"""Sessions planned at once."""

Journey = tuple[tuple[int, ...], int | None, float, tuple[int, ...]]
"""(steps as endpoint indexes, SKU index in the catalog or None, basket value, channel
preference order); a plain tuple, as the model plans millions of them. Steps tuples are
shared between sessions with the same walk (they are only read)."""
_TAILS = ((), (CART,), (CART, CHECKOUT), (CART, CHECKOUT, PAY))
"""The funnel steps after the product views, by how far the session goes."""


class JourneyPlanner:
    """Plans regular sessions, ``BATCH`` at a time; :attr:`plan` hands them out one per call."""

    __slots__ = ("_baskets", "_funnel", "_popularity", "_prices", "_rng", "_shares", "_steps",
                 "_views", "channel_shares", "plan")

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        segments = list(scenario.customers.segments.values())
        shares = np.cumsum([s.share for s in segments])
        shares[-1] = 1.0
        self._shares = shares if len(segments) > 1 else None
        """Cumulative segment shares, for picking a segment with one uniform draw (None with
        one segment: no draw)."""
        self._views: list[Distribution | None] = [
            None if s.product_views.is_zero else s.product_views for s in segments]
        self._baskets: list[Distribution | None] = [s.basket_value for s in segments]
        self._funnel = [np.array([getattr(s.funnel, step) for s in segments])
                        for step in ("cart", "checkout", "pay")]
        """P(cart), P(checkout | cart), P(pay | checkout), each indexed by segment."""
        self._prices = np.zeros(0)
        self._popularity = np.zeros(0)
        if scenario.catalog is not None:
            self._prices = np.array([s.price for s in scenario.catalog.skus], dtype=float)
            self._popularity = np.array(popularity(scenario))
        self.channel_shares = channel_shares(scenario)
        self._rng = rng
        self._steps: dict[int, tuple[int, ...]] = {}
        """Steps tuples by (views, how far), built once each."""
        self.plan: Callable[[], Journey] = partial(
            next, chain.from_iterable(map(self._batch, repeat(BATCH))))
        """The next session's journey (C calls: a batch is planned when the last runs out)."""

    @classmethod
    def from_stream(cls, scenario: Scenario, rng: np.random.Generator) -> JourneyPlanner:
        """The planner both engines use, drawing from one generator (the "journeys" stream)."""
        return cls(scenario, rng)

    def _batch(self, n: int) -> list[Journey]:
        rng = self._rng
        segment = np.zeros(n, dtype=np.intp) if self._shares is None else \
            np.searchsorted(self._shares, rng.random(n), side="right")
        views = np.zeros(n, dtype=np.intp)
        for index, dist in enumerate(self._views):
            if dist is not None:
                mine = segment == index
                views[mine] = dist.sample(rng, int(np.count_nonzero(mine)))  # whole views
        skus: list[int | None] = [None] * n
        prices = np.zeros(n)
        if len(self._popularity):
            sku = np.minimum(np.searchsorted(self._popularity, rng.random(n), side="right"),
                             len(self._popularity) - 1)
            skus, prices = sku.tolist(), self._prices[sku]
        reached = np.ones(n, dtype=bool)
        stage = np.zeros(n, dtype=np.intp)
        for step in self._funnel:
            p = step[segment]
            if p.any():
                reached &= rng.random(n) < p
            else:
                reached[:] = False
            stage += reached
        carted = stage > 0
        values = np.where(carted, prices, 0.0)
        for index, dist in enumerate(self._baskets):
            if dist is not None:
                mine = carted & (segment == index)
                values[mine] = dist.sample(rng, int(np.count_nonzero(mine)))
        channels: list[tuple[int, ...]] = [()] * n
        shares = self.channel_shares
        if shares:
            paying = np.flatnonzero(stage == 3)
            orders = preference_orders(shares, rng.random((len(paying), len(shares))))
            for i, order in zip(paying.tolist(), orders, strict=True):
                channels[i] = order
        known, make = self._steps, self._steps_of
        steps = [known.get(key) or make(key) for key in (views * 4 + stage).tolist()]
        return list(zip(steps, skus, values.tolist(), channels, strict=True))

    def _steps_of(self, key: int) -> tuple[int, ...]:
        views, stage = divmod(key, 4)
        steps = self._steps[key] = (HOME,) + (PRODUCT,) * views + _TAILS[stage]
        return steps


def popularity(scenario: Scenario) -> list[float]:
    """Cumulative popularity of the catalog's SKUs (equal when all are 0)."""
    if scenario.catalog is None:
        return []
    weights = np.array([s.popularity for s in scenario.catalog.skus], dtype=float)
    weights = weights if weights.sum() > 0 else np.ones(len(weights))
    return np.cumsum(weights / weights.sum()).tolist()
