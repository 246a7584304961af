"""What a shopper does when a step fails: retry it, give up, or pay with another channel.

Two kinds of failure, two policies:

- the platform fails a step (timeout, 5xx, refused connection): the shopper tries again after
  ``customers.retry.backoff``, ``max_attempts`` times in all; a flash-sale bot retries at once,
  ``bot_max_attempts`` times;
- the payment provider declines: the shopper pays again after ``payments.retry.backoff``,
  ``max_attempts`` payments in all, and after ``switch_channel_after`` declines in a row on
  one channel moves to their next channel.

**The channel rule.** Each paying shopper has a preference order over the channels, drawn by
share (weighted sampling without replacement, :func:`preference_order`): the first channel is
picked by share, as a shopper picks the way they usually pay; when they switch they take their
next preferred channel, and after the last one they come back to the first. A shopper does not
flip a coin again at each switch: someone whose card was declined three times reaches for the
wallet they have, not one drawn anew (which could be the failing card again with one channel
left out at most). The model (``sim/model/customers.py``) and the drill (``loadtests/users.py``)
both follow this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..scenario.schema import FlashSale, Scenario


@dataclass(frozen=True, slots=True)
class PlatformRetry:
    """Retries of a step the platform failed."""

    max_attempts: int
    """Attempts in all, the first included."""
    backoff: float
    """Seconds (simulated) before each retry."""

    def retries(self, attempt: int) -> bool:
        """After attempt number ``attempt`` failed: is there another?"""
        return attempt < self.max_attempts


def platform_retry(scenario: Scenario, sale: FlashSale | None = None,
                   bot: bool = False) -> PlatformRetry:
    """The shopper's policy: the scenario's ``customers.retry``; a bot retries its sale's
    ``bot_max_attempts`` times, with no backoff."""
    if bot and sale is not None:
        return PlatformRetry(sale.bot_max_attempts, 0.0)
    retry = scenario.customers.retry
    return PlatformRetry(retry.max_attempts, retry.backoff)


@dataclass(frozen=True, slots=True)
class PaymentRetry:
    """Payments again after a decline, switching channel after a run of declines."""

    max_attempts: int
    """Payments in all, the first included."""
    backoff: float
    switch_after: int | None
    """Declines in a row on one channel after which the shopper moves to their next one."""

    def retries(self, attempt: int) -> bool:
        """After payment number ``attempt`` was declined: pay again?"""
        return attempt < self.max_attempts

    def switches(self, declines_here: int, channels: int) -> bool:
        """After ``declines_here`` declines in a row on this channel: move to the next one?"""
        return (self.switch_after is not None and declines_here >= self.switch_after
                and channels > 1)


NO_PAYMENT_RETRY = PaymentRetry(1, 0.0, None)


def payment_retry(scenario: Scenario) -> PaymentRetry:
    payments = scenario.payments
    if payments is None:
        return NO_PAYMENT_RETRY
    retry = payments.retry
    return PaymentRetry(retry.max_attempts, retry.backoff, retry.switch_channel_after)


def channel_shares(scenario: Scenario) -> list[float]:
    """Each channel's share, in the scenario's order (empty without payments)."""
    return [c.share for c in scenario.payments.channels.values()] if scenario.payments else []


def preference_order(shares: Sequence[float], uniforms: Sequence[float]) -> tuple[int, ...]:
    """A shopper's channels, most preferred first: weighted sampling without replacement from
    one uniform per channel (Efraimidis and Spirakis: order by ``u ** (1 / share)``), so the
    first is picked by share and each next one by share among those left."""
    return preference_orders(shares, np.asarray([uniforms], dtype=float))[0]


def preference_orders(shares: Sequence[float], uniforms: np.ndarray) -> list[tuple[int, ...]]:
    """:func:`preference_order` for each row of ``uniforms`` (one row per shopper), at once.

    Keys are ``log(u) / share`` (log keys keep tiny shares apart from zero); a channel with no
    share comes last. Equal keys keep the channels' order.
    """
    share = np.asarray(shares, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = np.where((share > 0) & (uniforms > 0), np.log(uniforms) / share, -np.inf)
    return list(map(tuple, np.argsort(-keys, axis=1, kind="stable").tolist()))


def next_channel(position: int, channels: int) -> int:
    """The position in the preference order after ``position`` (back to the first after the
    last)."""
    return (position + 1) % channels
