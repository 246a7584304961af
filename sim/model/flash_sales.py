"""Flash sales: an audience that piles in after the start, scalper bots among them.

Each sale brings its own SKU (with its stock and per-user limit) into the inventory. Its
audience (``sim.behaviour.audiences``: arrival times, bots, shared identities, the same the
drill plans) arrives after ``start``; checkouts after ``end`` find the sale closed. A sale
happens once, on the first day it falls in (multi-day runs do not restock it).
"""

from __future__ import annotations

import numpy as np
import simpy

from ..behaviour.audiences import Audience, audiences
from ..scenario.schema import Scenario
from .customers import Shoppers
from .inventory import Inventory
from .wakeup import Wakeable, wake


def schedule_flash_sales(env: simpy.Environment, scenario: Scenario, inventory: Inventory,
                         shoppers: Shoppers, rng: np.random.Generator, until: float) -> None:
    """Every sale's stock and audience; buyers arrive until ``until`` (seconds into the run)."""
    if scenario.promotions is None:
        return
    clock = scenario.clock
    for sale, audience in zip(scenario.promotions.flash_sales, audiences(scenario, rng),
                              strict=True):
        stock = inventory.add(sale.sku.id, sale.sku.stock, sale.per_user_limit)
        closes = clock.window(sale.start, sale.end)[1]
        shoppers.add_flash_sale(sale, stock, closes)
        _Buyers(env, shoppers, audience, until)


class _Buyers(Wakeable):
    """A sale's audience, started one buyer after another: one pending wakeup (itself) per
    sale, where an event per buyer would sit in SimPy's heap from the start (a few hundred
    bytes each, and a deeper heap for every other event); the drawn arrays take 17 bytes."""

    __slots__ = ("_arriving", "audience", "count", "env", "next", "shoppers")

    def __init__(self, env: simpy.Environment, shoppers: Shoppers, audience: Audience,
                 duration: float):
        self.env, self.shoppers, self.audience = env, shoppers, audience
        self.count = int(np.searchsorted(audience.times, duration))
        """Buyers who arrive before ``duration`` (times ascend)."""
        self.next = 0
        self._arriving = (self._arrive,)
        if self.count:
            wake(env, float(audience.times[0]), self, self._arriving)

    def _arrive(self, _self: _Buyers) -> None:
        buyer, audience = self.next, self.audience
        bot = bool(audience.bots[buyer])
        # Bot identities are negative: apart from any other shopper's number.
        identity = -1 - int(audience.identities[buyer]) if bot else None
        self.shoppers.arrive_for_sale(audience.sale, bot, identity, audience.channels(buyer))
        self.next = buyer = buyer + 1
        if buyer < self.count:
            wake(self.env, float(audience.times[buyer]) - self.env._now, self, self._arriving)
