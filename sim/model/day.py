"""One replication of the peak day: the one place where the model's parts are wired together.

scenario + seed -> arrivals (sim.traffic) -> shoppers (customers) -> servers (platform),
all observed by the observer. Returns plain data; prints nothing, reads no files.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy

from ..scenario.schema import Scenario
from ..traffic import RateCurve
from .customers import STAGES, Shoppers
from .observer import MINUTE, Observation, Observer
from .platform import Servers
from .streams import spawn_streams
from .wakeup import later

CHUNK = 3600.0
"""Arrival times are drawn an hour at a time: memory stays flat however long the run."""


def simulate_day(scenario: Scenario, seed: np.random.SeedSequence,
                 progress: Callable[[float], None] | None = None) -> Observation:
    """Run one replication and return what it measured."""
    env = simpy.Environment()
    streams = spawn_streams(seed)
    observer = Observer(env, scenario, progress)
    servers = Servers(env, scenario.platform, scenario.customers.client_timeout,
                      streams["service"], observer.latencies, observer.errors)
    shoppers = Shoppers(env, scenario, servers, streams["journeys"])
    tally = shoppers.tally
    observer.servers = servers
    observer.sessions = lambda: (tally.sessions, tally.sessions - tally.finished)
    curve = RateCurve(scenario.traffic.sessions_per_min, scenario.clock)
    duration = scenario.clock.duration
    _Arrivals(env, curve, duration, streams["arrivals"], shoppers.arrive)
    env.process(observer.ticker())
    at_warmup: dict[str, float] = {}
    if scenario.clock.warmup:
        env.timeout(scenario.clock.warmup).callbacks.append(
            lambda _: at_warmup.update(_counters(observer, servers, shoppers)))
    env.run(until=duration)
    while observer.minutes < math.ceil(duration / MINUTE):
        observer.tick()  # the last minute ends at `duration`, which env.run does not process
    final = _counters(observer, servers, shoppers)
    measured = duration - scenario.clock.warmup
    counters = {key: value - at_warmup.get(key, 0) for key, value in final.items()}
    counters["requests_in_server_at_end"] = servers.busy + servers.queued
    counters["requests_unanswered_at_end"] = servers.unanswered
    counters["mean_in_system"] = counters.pop("system_seconds") / measured
    counters["measured_seconds"] = measured
    return observer.observation(counters)


def _counters(observer: Observer, servers: Servers, shoppers: Shoppers) -> dict[str, float]:
    """Running totals; those at the end of warm-up are subtracted from those at the end."""
    servers.sync()
    tally = shoppers.tally
    return {
        "sessions": tally.sessions,
        "sessions_finished": tally.finished,
        "requests": observer.responses,
        "requests_submitted": servers.submitted,
        "timeouts": observer.timeouts,
        "shed": observer.shed,
        "errors": observer.timeouts + observer.shed,
        "retries": tally.retries,
        "orders": tally.orders,
        "gmv": tally.gmv,
        "lost_sales": sum(tally.gave_up[1:]),
        "lost_sales_value": tally.lost_value,
        "instance_hours": servers.instance_area / 3600.0,
        "busy_worker_seconds": servers.busy_area,
        "capacity_worker_seconds": servers.capacity_area,
        "system_seconds": servers.system_area,
        **{f"gave_up_{stage}": n for stage, n in zip(STAGES, tally.gave_up, strict=True)},
    }


class _Arrivals:
    """Starts each session at its drawn arrival time: one scheduled callback per session."""

    def __init__(self, env: simpy.Environment, curve: RateCurve, duration: float,
                 rng: np.random.Generator, arrive: Callable[[], None]):
        self.env, self.curve, self.duration, self.rng, self.arrive = (
            env, curve, duration, rng, arrive)
        self.times: list[float] = []
        self.index = 0
        self.drawn_until = 0.0
        self._next()

    def _next(self) -> None:
        while self.index == len(self.times):
            if self.drawn_until >= self.duration:
                return
            end = min(self.drawn_until + CHUNK, self.duration)
            self.times = self.curve.arrivals(self.drawn_until, end, self.rng).tolist()
            self.index = 0
            self.drawn_until = end
        later(self.env, self.times[self.index] - self.env.now, self._fire)
        self.index += 1

    def _fire(self, _event: object) -> None:
        self.arrive()
        self._next()
