"""The shopper's retry and payment rules (``sim.behaviour.retries``) judged directly.

The model and the drill both execute these rules; tests/test_parity.py shows that they draw the
same sequences. Here the rules themselves are held to what the scenario language promises:
``max_attempts`` counts the first attempt, bots retry at once, a shopper moves to their next
channel after ``switch_channel_after`` declines in a row and comes back to the first after the
last, and the preference order picks each channel by share.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.behaviour.retries import (
    NO_PAYMENT_RETRY,
    PaymentRetry,
    next_channel,
    payment_retry,
    platform_retry,
    preference_order,
)
from sim.scenario import load_scenario

from .conftest import SCENARIOS

FLASH = SCENARIOS / "flash-sale.yaml"
# customers.retry {max_attempts: 3, backoff: 1s}; the hot deal's bots: bot_max_attempts 10;
# payments.retry {max_attempts: 3, backoff: 2s, switch_channel_after: 2}; three channels.


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(FLASH)


def test_max_attempts_counts_the_first_attempt(scenario) -> None:
    retry = platform_retry(scenario)
    assert (retry.max_attempts, retry.backoff) == (3, 1.0)
    assert [retry.retries(attempt) for attempt in (1, 2, 3, 4)] == [True, True, False, False]
    once = platform_retry(load_scenario(FLASH, ["customers.retry.max_attempts=1"]))
    assert not once.retries(1), "max_attempts: 1 means no retry"


def test_a_bot_retries_its_sales_attempts_at_once(scenario) -> None:
    sale = scenario.promotions.flash_sales[0]
    bot = platform_retry(scenario, sale, bot=True)
    assert (bot.max_attempts, bot.backoff) == (sale.bot_max_attempts, 0.0) == (10, 0.0)
    assert platform_retry(scenario, sale) == platform_retry(scenario), "a buyer is no bot"
    assert platform_retry(scenario, None, bot=True) == platform_retry(scenario), \
        "a bot outside a sale shops as anyone"


def test_payment_retries_and_channel_switches(scenario) -> None:
    retry = payment_retry(scenario)
    assert retry == PaymentRetry(3, 2.0, 2)
    assert [retry.retries(attempt) for attempt in (1, 2, 3)] == [True, True, False]
    assert [retry.switches(declines, 3) for declines in (1, 2, 3)] == [False, True, True]
    assert not retry.switches(2, 1), "a single channel has no next one"
    assert not PaymentRetry(5, 0.0, None).switches(9, 3), "no switch_channel_after: stay"


def test_without_payments_a_decline_is_final() -> None:
    shop = load_scenario(FLASH, ["payments=null"])
    assert payment_retry(shop) is NO_PAYMENT_RETRY
    assert not NO_PAYMENT_RETRY.retries(1)


def test_declines_walk_the_preference_order_and_wrap_around() -> None:
    """Five declines with a switch after two, preferring channel 2, then 0, then 1."""
    retry, order = PaymentRetry(5, 0.0, 2), (2, 0, 1)
    position, declines_here, tried = 0, 0, []
    for attempt in range(1, 10):
        tried.append(order[position])
        declines_here += 1
        if not retry.retries(attempt):
            break
        if retry.switches(declines_here, len(order)):
            position, declines_here = next_channel(position, len(order)), 0
    assert tried == [2, 2, 0, 0, 1]
    assert [next_channel(p, 3) for p in (0, 1, 2)] == [1, 2, 0]


def test_the_preference_order_picks_by_share_first_and_among_the_rest_next() -> None:
    shares = [0.55, 0.35, 0.10]
    rng = np.random.default_rng(2026)
    n = 20_000
    orders = [preference_order(shares, rng.random(3)) for _ in range(n)]
    assert all(sorted(o) == [0, 1, 2] for o in orders)
    firsts = np.bincount([o[0] for o in orders], minlength=3) / n
    for seen, share in zip(firsts, shares, strict=True):
        assert abs(seen - share) < 4 * math.sqrt(share * (1 - share) / n)
    after_first = [o[1] for o in orders if o[0] == 0]
    second = sum(1 for c in after_first if c == 1) / len(after_first)
    expected = 0.35 / (1 - 0.55)
    assert abs(second - expected) < 4 * math.sqrt(expected * (1 - expected) / len(after_first))
    assert preference_order(shares, [0.3, 0.6, 0.9]) == preference_order(shares, [0.3, 0.6, 0.9])


def test_a_channel_with_no_share_comes_last() -> None:
    rng = np.random.default_rng(7)
    assert all(preference_order([0.5, 0.0, 0.5], rng.random(3))[-1] == 1 for _ in range(500))
