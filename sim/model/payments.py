"""The payment gateway: channels with their own latency and failure rate, and brown-outs.

The platform worker is released while the gateway answers (the pay request waits on the
provider, not on a CPU). An attempt slower than ``payments.timeout`` fails at the timeout.
During an outage window the channel's failure rate is the outage's. Retries and channel
switching are the shopper's decisions (sim.behaviour.retries, executed by customers.py); this
module counts what it sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from ..metrics import Histogram
from ..scenario.schema import Clock, Payments
from .streams import pool, uniforms
from .wakeup import later


@dataclass
class ChannelStats:
    attempts: int = 0
    failures: int = 0
    timeouts: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)
    latency: Histogram = field(default_factory=Histogram)


class Gateway:
    """Simulated payment providers; ``charge`` answers after the channel's latency."""

    def __init__(self, env: simpy.Environment, spec: Payments, clock: Clock,
                 rng: np.random.Generator):
        self.env = env
        self.spec = spec
        self.names = list(spec.channels)
        channels = list(spec.channels.values())
        self._latency = [pool(c.latency, rng) for c in channels]
        self._failure = [c.failure_rate for c in channels]
        self._outages = [(self.names.index(o.channel), clock.window(o.from_, o.to),
                          o.failure_rate) for o in spec.outages]
        self._uniform = uniforms(rng)
        self.stats = [ChannelStats() for _ in channels]
        self.failures_this_minute = 0

    def failure_rate(self, channel: int, t: float) -> float:
        for index, window, rate in self._outages:
            if index == channel and Clock.inside(t, window):
                return rate
        return self._failure[channel]

    def charge(self, channel: int, retry: bool, then: Callable[[bool], None]) -> None:
        """One attempt on ``channel``; ``then(success)`` after its latency (or the timeout)."""
        stats = self.stats[channel]
        stats.attempts += 1
        stats.retries += retry
        latency = self._latency[channel]()
        timeout = self.spec.timeout
        if latency > timeout:
            stats.timeouts += 1
            ok, latency = False, timeout
        else:
            ok = self._uniform() >= self.failure_rate(channel, self.env.now)
        stats.latencies.append(latency)
        if not ok:
            stats.failures += 1
            self.failures_this_minute += 1
        later(self.env, latency, lambda _: then(ok))

    def take_failures(self) -> int:
        """Failures since the last call (the minute series' payment_failures)."""
        failures, self.failures_this_minute = self.failures_this_minute, 0
        return failures

    def flush(self) -> None:
        for stats in self.stats:
            if stats.latencies:
                stats.latency.add_values(np.asarray(stats.latencies))
                stats.latencies.clear()
