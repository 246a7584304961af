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

CHUNK = 3600.0
"""Arrival times are drawn an hour at a time: memory stays flat however long the run."""


def simulate_day(scenario: Scenario, seed: np.random.SeedSequence,
                 progress: Callable[[float], None] | None = None) -> Observation:
    """Run one replication and return what it measured."""
    env = simpy.Environment()
    streams = spawn_streams(seed)
    observer = Observer(env, scenario, progress)
    servers = Servers(env, scenario.platform, scenario.customers.client_timeout,
                      streams["service"], observer.record)
    shoppers = Shoppers(env, scenario, servers, streams["journeys"], observer.change_active)
    observer.servers = servers
    observer.session_count = lambda: shoppers.tally.sessions
    curve = RateCurve(scenario.traffic.sessions_per_min, scenario.clock)
    duration = scenario.clock.duration
    env.process(_arrivals(env, curve, duration, streams["arrivals"], shoppers.arrive))
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
    servers._advance()
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


def _arrivals(env: simpy.Environment, curve: RateCurve, duration: float,
              rng: np.random.Generator, arrive: Callable[[], None]):
    """A SimPy process that starts each session at its drawn arrival time."""
    start = 0.0
    while start < duration:
        end = min(start + CHUNK, duration)
        for t in curve.arrivals(start, end, rng).tolist():
            yield env.timeout(t - env.now)
            arrive()
        start = end
