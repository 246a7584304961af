"""A simulated payment provider answering in real time.

Latency and failure per channel come from the scenario's ``payments`` section. The service
does not follow the scenario's clock, so outages are switched on and off by whoever drives
it (a drill at the compressed time of the outage) through ``POST /admin/outages``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sim.scenario.schema import Payments


@dataclass
class Ledger:
    """Charges by reference (the order): asked for, approved, and refunded."""

    asked: Counter[str] = field(default_factory=Counter)
    approved: Counter[str] = field(default_factory=Counter)
    refunded: Counter[str] = field(default_factory=Counter)

    def kept(self, reference: str) -> int:
        """Approved charges the shopper is left paying."""
        return self.approved[reference] - self.refunded[reference]

    def clear(self) -> None:
        for counter in (self.asked, self.approved, self.refunded):
            counter.clear()


class Gateway:
    def __init__(self, payments: Payments | None, seed: int = 0):
        self.channels = dict(payments.channels) if payments else {}
        self.timeout = payments.timeout if payments else 10.0
        self.overrides: dict[str, float] = {}
        """Channel -> failure rate while an outage is switched on."""
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.ledger: Ledger | None = None
        """The provider's statement, when kept (``keep_ledger``): for checking that no order
        is charged twice, nor asked for when it cannot be sold."""

    def keep_ledger(self) -> Ledger:
        self.ledger = Ledger()
        return self.ledger

    def knows(self, channel: str) -> bool:
        return not self.channels or channel in self.channels

    def _draw(self, channel: str) -> tuple[float, bool]:
        spec = self.channels.get(channel)
        if spec is None:
            return 0.0, True
        with self._lock:
            latency = float(spec.latency.sample(self._rng, 1)[0])
            failure = self.overrides.get(channel, spec.failure_rate)
            approved = bool(self._rng.random() >= failure)
        if latency > self.timeout:
            return self.timeout, False
        return latency, approved

    async def charge(self, channel: str, reference: str) -> bool:
        """Wait the channel's latency (not holding a thread), then approve or decline."""
        latency, approved = self._draw(channel)
        if self.ledger is not None:
            self.ledger.asked[reference] += 1
        await asyncio.sleep(latency)
        if approved and self.ledger is not None:
            self.ledger.approved[reference] += 1
        return approved

    def refund(self, reference: str) -> None:
        """Give back an approved charge the shop could not honour."""
        if self.ledger is not None:
            self.ledger.refunded[reference] += 1
