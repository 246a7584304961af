"""Flash sales: an audience that piles in after the start, scalper bots among them.

Each sale brings its own SKU (with its stock and per-user limit) into the inventory. Its
audience (``sim.behaviour.audiences``: arrival times, bots, shared identities, the same the
drill plans) arrives after ``start``; checkouts after ``end`` find the sale closed. A sale
happens once, on the first day it falls in (multi-day runs do not restock it).
"""

from __future__ import annotations

import numpy as np
import simpy

from ..behaviour.audiences import audiences
from ..scenario.schema import Scenario
from .customers import Shoppers
from .inventory import Inventory
from .wakeup import later


def schedule_flash_sales(env: simpy.Environment, scenario: Scenario, inventory: Inventory,
                         shoppers: Shoppers, rng: np.random.Generator) -> None:
    if scenario.promotions is None:
        return
    clock = scenario.clock
    for sale, audience in zip(scenario.promotions.flash_sales, audiences(scenario, rng),
                              strict=True):
        stock = inventory.add(sale.sku.id, sale.sku.stock, sale.per_user_limit)
        closes = clock.window(sale.start, sale.end)[1]
        shoppers.add_flash_sale(sale, stock, closes)
        for buyer, (t, bot, identity) in enumerate(zip(
                audience.times.tolist(), audience.bots.tolist(), audience.identities.tolist(),
                strict=True)):
            if t < clock.duration:
                # Bot identities are negative: apart from any other shopper's number.
                later(env, t, _arrive, (shoppers, audience, buyer, bot,
                                        -1 - identity if bot else None))


def _arrive(event: simpy.Event) -> None:
    shoppers, audience, buyer, bot, identity = event._value
    shoppers.arrive_for_sale(audience.sale, bot, identity, audience.channels(buyer))
