"""Flash sales: an audience that piles in after the start, scalper bots among them.

Each sale brings its own SKU (with its stock and per-user limit) into the inventory. Its
audience arrives at ``start`` plus a draw from ``arrival_spread``; a ``bot_share`` of them are
bots, which share identities (``bot_sessions_per_identity``) to test the per-user limit.
Checkouts after ``end`` find the sale closed. A sale happens once, on the first day it falls
in (multi-day runs do not restock it).
"""

from __future__ import annotations

import numpy as np
import simpy

from ..scenario.schema import Scenario
from .customers import Shoppers
from .inventory import Inventory
from .wakeup import later


def schedule_flash_sales(env: simpy.Environment, scenario: Scenario, inventory: Inventory,
                         shoppers: Shoppers, rng: np.random.Generator) -> None:
    if scenario.promotions is None:
        return
    clock = scenario.clock
    for sale in scenario.promotions.flash_sales:
        stock = inventory.add(sale.sku.id, sale.sku.stock, sale.per_user_limit)
        opens, closes = clock.window(sale.start, sale.end)
        index = shoppers.add_flash_sale(stock, sale.sku.price, closes, sale.bot_max_attempts)
        if sale.audience == 0:
            continue
        times = np.sort(opens + sale.arrival_spread.sample(rng, sale.audience))
        bots = rng.random(sale.audience) < sale.bot_share
        identities = (np.cumsum(bots) - 1) // sale.bot_sessions_per_identity
        for t, bot, identity in zip(times.tolist(), bots.tolist(), identities.tolist(),
                                    strict=True):
            if t < clock.duration:
                later(env, t, _arrive, (shoppers, index, bot, -1 - identity if bot else None))


def _arrive(event) -> None:
    shoppers, index, bot, identity = event._value
    shoppers.arrive_for_sale(index, bot, identity)
