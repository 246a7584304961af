"""Journey plans, drawn a batch at a time: the funnel, the segments and the channels as the
scenario says, the same sessions from the same stream across batch boundaries."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from sim.behaviour.journeys import (
    BATCH,
    CART,
    CHECKOUT,
    HOME,
    PAY,
    PRODUCT,
    JourneyPlanner,
    popularity,
)
from sim.behaviour.retries import preference_order, preference_orders
from sim.scenario import load_scenario

from .conftest import SCENARIOS

N = 3 * BATCH + 17
"""Across batch boundaries."""


def plans(*overrides: str, seed: int = 11):
    scenario = load_scenario(SCENARIOS / "double11.yaml", list(overrides))
    planner = JourneyPlanner.from_stream(scenario, np.random.default_rng(seed))
    return scenario, [planner.plan() for _ in range(N)]


def within(seen: int, n: int, p: float) -> bool:
    return abs(seen / n - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-12


def test_plans_walk_the_funnel_in_order_with_its_probabilities():
    scenario, journeys = plans("customers.segments.vip.share=0",
                               "customers.segments.regular.share=1")
    funnel = scenario.customers.segments["regular"].funnel
    reached = Counter()
    for steps, sku, value, channels in journeys:
        views = steps.count(PRODUCT)
        tail = steps[1 + views:]
        assert steps[0] == HOME and steps[1:1 + views] == (PRODUCT,) * views
        assert tail == (CART, CHECKOUT, PAY)[:len(tail)]
        reached.update(tail)
        assert (value > 0) == (CART in tail)
        assert (len(channels) == 3) == (PAY in tail) and sorted(channels or (0, 1, 2)) == [0, 1, 2]
        assert sku is not None
    assert within(reached[CART], N, funnel.cart)
    assert within(reached[CHECKOUT], reached[CART], funnel.checkout)
    assert within(reached[PAY], reached[CHECKOUT], funnel.pay)
    views = np.array([j[0].count(PRODUCT) for j in journeys])
    assert abs(views.mean() - 3) < 4 * views.std() / math.sqrt(N)


def test_segments_skus_and_first_channels_by_share():
    scenario, journeys = plans()
    cuts = popularity(scenario)
    skus = Counter(j[1] for j in journeys)
    for index, (low, high) in enumerate(zip([0.0, *cuts[:-1]], cuts, strict=True)):
        assert within(skus[index], N, high - low)
    vip_views = np.mean([j[0].count(PRODUCT) for j in journeys])
    assert 3 < vip_views < 3.3  # 88% of sessions view 3 on average, 12% view 4
    payers = [j[3] for j in journeys if j[3]]
    shares = [c.share for c in scenario.payments.channels.values()]
    firsts = Counter(order[0] for order in payers)
    for channel, share in enumerate(shares):
        assert within(firsts[channel], len(payers), share)


def test_the_same_stream_plans_the_same_sessions_and_steps_are_shared():
    _, first = plans(seed=5)
    _, again = plans(seed=5)
    _, other = plans(seed=6)
    assert first == again and first != other
    walks = {id(j[0]) for j in first}
    assert len(walks) == len({j[0] for j in first})  # one tuple per distinct walk


def test_a_funnel_probability_of_zero_is_never_reached():
    _, journeys = plans("customers.segments.regular.funnel.cart=0",
                        "customers.segments.vip.funnel.cart=0")
    assert all(steps[-1] in (HOME, PRODUCT) and value == 0 and channels == ()
               for steps, _, value, channels in journeys)


def test_batched_preference_orders_are_the_single_rule_row_by_row():
    shares = [0.55, 0.0, 0.35, 0.10]
    draws = np.random.default_rng(3).random((500, 4))
    draws[0] = [0.0, 0.5, 0.5, 0.5]  # a zero draw: last among the shared channels
    orders = preference_orders(shares, draws)
    assert orders == [preference_order(shares, row.tolist()) for row in draws]
    assert all(order[-1] == 1 for order in orders)  # no share: last
    assert orders[0][-2] == 0
