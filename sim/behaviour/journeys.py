"""Journey planning: what a session will do, decided when it arrives.

A regular session picks its segment by share, views a number of products, looks at one SKU
(by popularity) and walks the segment's nested funnel: cart with P(cart), then checkout with
P(checkout | cart), then pay with P(pay | checkout). A session that puts the SKU in its cart
is worth the basket value (the segment's ``basket_value`` draw, else the SKU's price); one that
reaches pay has a preference order over the payment channels (see :mod:`.retries`).

The planner takes its random draws as callables bound once: the model passes its batched
pools (``sim/model/streams.py``), and so does the drill, built from the same stream by
:meth:`JourneyPlanner.from_stream`, so one seed plans the same sessions on both sides. A
probability of 0 draws nothing, so adding a segment with an empty funnel does not shift the
other draws.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence

import numpy as np

from ..scenario.schema import ENDPOINTS, Scenario
from .retries import channel_shares, preference_order

HOME, PRODUCT, CART, CHECKOUT, PAY = (ENDPOINTS.index(e)
                                      for e in ("home", "product", "cart", "checkout", "pay"))
FLASH_STEPS = (PRODUCT, CART, CHECKOUT, PAY)
"""A flash-sale buyer goes straight to the deal."""

Draw = Callable[[], float]
Journey = tuple[list[int], int | None, float, tuple[int, ...]]
"""(steps as endpoint indexes, SKU index in the catalog or None, basket value, channel
preference order); a plain tuple, as the model plans millions of them."""


class JourneyPlanner:
    """Plans regular sessions from a uniform draw and each segment's views and basket draws."""

    __slots__ = ("_last_sku", "_popularity", "_prices", "_segments", "_shares", "_uniform",
                 "channel_shares")

    def __init__(self, scenario: Scenario, uniform: Draw, views: Sequence[Draw | None],
                 baskets: Sequence[Draw | None]):
        segments = list(scenario.customers.segments.values())
        shares = np.cumsum([s.share for s in segments]).tolist()
        self._shares = [*shares[:-1], 1.0] if len(shares) > 1 else None
        """Cumulative segment shares, for picking a segment with one uniform draw (None with
        one segment: no draw)."""
        self._segments = [(view, basket, s.funnel.cart, s.funnel.checkout, s.funnel.pay)
                          for s, view, basket in zip(segments, views, baskets, strict=True)]
        """Per segment: its views and basket draws and its funnel, unpacked in one go."""
        self._uniform = uniform
        self._prices: list[float] = []
        self._popularity: list[float] = []
        if scenario.catalog is not None:
            skus = scenario.catalog.skus
            self._prices = [s.price for s in skus]
            self._popularity = popularity(scenario)
        self._last_sku = len(self._popularity) - 1
        self.channel_shares = channel_shares(scenario)

    @classmethod
    def from_stream(cls, scenario: Scenario, rng: np.random.Generator) -> JourneyPlanner:
        """The planner both engines use: batched draws from one generator (the "journeys"
        stream), views and basket pools per segment (none where a segment has no draw)."""
        from ..model.streams import pool, uniforms  # numpy only, no engine

        segments = list(scenario.customers.segments.values())
        return cls(scenario, uniforms(rng),
                   [None if s.product_views.is_zero else pool(s.product_views, rng)
                    for s in segments],
                   [None if s.basket_value is None else pool(s.basket_value, rng)
                    for s in segments])

    def plan(self) -> Journey:
        # Run once per session (millions a day): locals over attribute reads, one unpacking.
        u = self._uniform
        shares = self._shares
        views, basket, p_cart, p_checkout, p_pay = \
            self._segments[bisect_right(shares, u()) if shares is not None else 0]
        steps = [HOME] + [PRODUCT] * int(views()) if views is not None else [HOME]
        sku = None
        if self._popularity:
            sku = min(bisect_right(self._popularity, u()), self._last_sku)
        value = 0.0
        channels: tuple[int, ...] = ()
        if p_cart and u() < p_cart:
            steps.append(CART)
            if sku is not None:
                value = self._prices[sku]
            if basket is not None:
                value = basket()
            if p_checkout and u() < p_checkout:
                steps.append(CHECKOUT)
                if p_pay and u() < p_pay:
                    steps.append(PAY)
                    by_share = self.channel_shares
                    if by_share:
                        channels = preference_order(by_share, [u() for _ in by_share])
        return steps, sku, value, channels


def popularity(scenario: Scenario) -> list[float]:
    """Cumulative popularity of the catalog's SKUs (equal when all are 0)."""
    if scenario.catalog is None:
        return []
    weights = np.array([s.popularity for s in scenario.catalog.skus], dtype=float)
    weights = weights if weights.sum() > 0 else np.ones(len(weights))
    return np.cumsum(weights / weights.sum()).tolist()
