"""One replication of the peak day: the one place where the model's parts are wired together.

scenario + seed -> arrivals (sim.traffic) -> shoppers (customers) -> servers (platform),
all observed by the observer. Returns plain data; prints nothing, reads no files.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappush

import numpy as np
import simpy
from simpy.events import NORMAL

from ..scenario.schema import ENDPOINTS, Scenario
from ..traffic import RateCurve
from .capacity import InstanceSchedule, schedule_capacity
from .customers import CHECKOUT, PAY, Shoppers, checkout_work, pay_wait
from .flash_sales import schedule_flash_sales
from .inventory import Inventory
from .observer import MINUTE, Observation, Observer
from .outcomes import (
    FlashSaleFigures,
    Losses,
    Parts,
    StockFigures,
    SupportResults,
)
from .payments import Gateway
from .platform import Request, Servers
from .streams import spawn_streams, uniforms
from .support import Support
from .wakeup import Wakeable, run_to_stop, stop_at, wake

SUPPORT = ENDPOINTS.index("support")


def simulate_day(scenario: Scenario, seed: np.random.SeedSequence,
                 progress: Callable[[float], None] | None = None,
                 record_contacts: bool = False, arrivals_until: float | None = None
                 ) -> Observation:
    """Run one replication and return what it measured.

    ``record_contacts`` adds the support contact stream (``parts.support.stream``) that agent
    sizing replays. ``arrivals_until`` (seconds into the clock) ends the arrivals — sessions
    and flash-sale buyers — before the clock does: the sessions already walking go on to the
    end (a drill's graceful stop).
    """
    return DayRun(scenario, seed, progress, record_contacts, arrivals_until).finish()


class DayRun:
    """One replication that can be paused: wired and started, run to a time, then to the end.

    A run paused and resumed processes the same events in the same order as one run straight
    through (``wakeup.stop_at``), so a paused run forked by the OS (``sim.sizing.forks``) and
    given another instance schedule from there (``capacity``) measures what a day started with
    that schedule would, without simulating the hours before again.
    """

    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence,
                 progress: Callable[[float], None] | None = None,
                 record_contacts: bool = False, arrivals_until: float | None = None):
        self.env = env = simpy.Environment()
        self.scenario, self.record_contacts = scenario, record_contacts
        self.day = day = _Day.wire(env, scenario, seed, progress, record_contacts,
                                   arrivals_until)
        env.process(day.observer.ticker())
        if scenario.clock.warmup:
            env.timeout(scenario.clock.warmup).callbacks.append(lambda _: day.end_warmup())
        stop_at(env, scenario.clock.duration)

    @property
    def capacity(self) -> InstanceSchedule | None:
        """The fixed instance schedule (autoscaling off), which may be replanned ahead."""
        return self.day.capacity

    def advance(self, until: float) -> None:
        """Run to ``until`` (before the end of the day) and pause there."""
        stop_at(self.env, until)
        _run(self.env)

    def finish(self, until: float | None = None) -> Observation:
        """Run to the end of the day and return what it measured — or, with ``until``, cut the
        day short there: what it measured in the minutes closed by then, without the contact
        stream (sizing judges an interval on a day cut just after it)."""
        day, duration = self.day, self.scenario.clock.duration
        if until is not None and until < duration:
            self.advance(until)
            return day.observation(record_contacts=False)
        _run(self.env)
        while day.observer.minutes < math.ceil(duration / MINUTE):
            day.observer.tick()  # the last minute ends at `duration`, which the run leaves
        return day.observation(self.record_contacts)


def _run(env: simpy.Environment) -> None:
    """Run to the next stop marker with Python's cyclic garbage collector eased.

    A day keeps hundreds of thousands of objects alive (sessions, requests, reservations,
    heap entries); each full collection walks them all, and the default thresholds start one
    every few hundred thousand allocations — with ten times double11's sessions, 13% of the
    CPU (measured: 96-100 CPU-s against 82-90 for the first hour). The model makes almost no
    cycles (a day's collections free about ten objects), so the objects alive when the run
    starts are frozen out of collections and the young generation is collected 70 times less
    often (the older ones 2 and 10 times less); all is restored after. What the model computes
    does not change.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        run_to_stop(env)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@dataclass
class _Day:
    """The model's parts wired for one replication, and what is read from them at the end."""

    scenario: Scenario
    observer: Observer
    servers: Servers
    inventory: Inventory
    shoppers: Shoppers
    gateway: Gateway | None
    support: Support | None
    capacity: InstanceSchedule | None
    at_warmup: tuple[dict[str, float], Losses] | None = None
    """The running totals when the warm-up ended (none without a warm-up)."""

    @classmethod
    def wire(cls, env: simpy.Environment, scenario: Scenario, seed: np.random.SeedSequence,
             progress: Callable[[float], None] | None, record_contacts: bool,
             arrivals_until: float | None = None) -> _Day:
        """Every part on its own random stream, connected as the day runs, arrivals started."""
        streams = spawn_streams(seed)
        observer = Observer(env, scenario, progress)
        servers = Servers(env, scenario.platform, scenario.customers.client_timeout,
                          streams["service"], observer.latencies, observer.errors)
        capacity = schedule_capacity(env, servers, scenario)
        inventory = Inventory(env, scenario.inventory, uniforms(streams["inventory"]))
        if scenario.catalog is not None:
            for sku in scenario.catalog.skus:
                inventory.add(sku.id, sku.stock, scenario.catalog.per_user_limit)
        gateway = None
        if scenario.payments is not None:
            gateway = Gateway(env, scenario.payments, scenario.clock, streams["payments"])
            servers.attach(PAY, after=pay_wait(gateway))
            observer.gauge("payment_failures", gateway.take_failures)
        support = None
        if scenario.support is not None:
            support = Support(env, scenario, streams["support"],
                              on_contact=lambda: servers.submit(Request(SUPPORT, _ignore, None)),
                              record=record_contacts)
            observer.gauge("support_queue", lambda: support.waiting)
            observer.gauge("agents", lambda: support.agents)
            observer.gauge("abandoned", support.take_abandoned)
        shoppers = Shoppers(env, scenario, servers, streams["journeys"], streams["shoppers"],
                            inventory, gateway, support)
        servers.attach(CHECKOUT, hold=checkout_work(inventory))
        end = scenario.clock.duration
        if arrivals_until is not None:
            end = min(arrivals_until, end)
        schedule_flash_sales(env, scenario, inventory, shoppers, streams["flash_sales"], end)
        for sku_id, stock in inventory.skus.items():
            observer.gauge(f"stock_{sku_id}", lambda stock=stock: stock.available)  # type: ignore[misc]
        observer.on_minute.append(inventory.flush)
        if gateway is not None:
            observer.on_minute.append(gateway.flush)
        tally = shoppers.tally
        observer.servers = servers
        observer.sessions = lambda: (tally.sessions, tally.sessions - tally.finished)
        curve = RateCurve(scenario.traffic.sessions_per_min, scenario.clock)
        _Arrivals(env, curve, end, streams["arrivals"], shoppers.arrive)
        return cls(scenario, observer, servers, inventory, shoppers, gateway, support, capacity)

    def counters(self) -> dict[str, float]:
        """Running totals; those at the end of warm-up are subtracted from those at the end."""
        observer, servers, shoppers = self.observer, self.servers, self.shoppers
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
            "discounts": sum(c.discount for c in shoppers.coupon_figures().values()),
            "instance_hours": servers.instance_area / 3600.0,
            "busy_worker_seconds": servers.busy_area,
            "capacity_worker_seconds": servers.capacity_area,
            "system_seconds": servers.system_area,
        }

    def observation(self, record_contacts: bool) -> Observation:
        """What the day measured up to now (the part after the warm-up)."""
        return self.observer.observation(self.measured_counters(), self.measured_losses(),
                                         self.parts(record_contacts))

    def end_warmup(self) -> None:
        """Take the running totals the measured part of the day starts from."""
        self.at_warmup = (self.counters(), self.shoppers.tally.losses())

    def measured_losses(self) -> Losses:
        """Sales lost in the measured part of the day (after the warm-up)."""
        losses = self.shoppers.tally.losses()
        return losses if self.at_warmup is None else losses.since(self.at_warmup[1])

    def measured_counters(self) -> dict[str, float]:
        """The totals of the measured part of the day (after the warm-up), and what was still
        in the system when it ended."""
        servers = self.servers
        clock = self.scenario.clock
        measured = clock.duration - clock.warmup
        at_warmup = {} if self.at_warmup is None else self.at_warmup[0]
        counters = {key: value - at_warmup.get(key, 0) for key, value in self.counters().items()}
        counters["requests_in_server_at_end"] = servers.busy + servers.queued
        counters["requests_unanswered_at_end"] = servers.unanswered
        counters["mean_in_system"] = counters.pop("system_seconds") / measured
        counters["measured_seconds"] = measured
        return counters

    def parts(self, record_contacts: bool) -> Parts:
        """Per-SKU stock, flash sales, coupons, payment channels and support intervals."""
        scenario, shoppers, gateway, support = self.scenario, self.shoppers, self.gateway, \
            self.support
        sales = scenario.promotions.flash_sales if scenario.promotions is not None else []
        support_results = None
        if support is not None:
            intervals = math.ceil(scenario.clock.duration / support.per)
            support_results = SupportResults(
                by_source=dict(support.by_source),
                intervals=support.finish(intervals),
                agents_schedule=[support.agents_at(i * support.per) for i in range(intervals)],
                stream=support.stream(intervals) if record_contacts else None)
        return Parts(
            inventory={sku_id: StockFigures.of(stock)
                       for sku_id, stock in self.inventory.skus.items()},
            flash_sales=[FlashSaleFigures.of(sale.name, sale.sku.id, stats)
                         for sale, stats in zip(sales, shoppers.sale_stats, strict=True)],
            coupons=shoppers.coupon_figures(),
            payments=None if gateway is None else dict(zip(gateway.names, gateway.stats,
                                                           strict=True)),
            support=support_results,
        )


def _ignore(_request: Request, _outcome: int) -> None:
    """A support ticket's platform request: its answer changes nothing in the queue model."""


class _Arrivals(Wakeable):
    """Starts each session at its drawn arrival time: one pending wakeup at a time (itself).

    Arrival times come in chunks of a bounded expected count (``RateCurve.chunks``), drawn
    as the previous one runs out.
    """

    __slots__ = ("_chunks", "_firing", "arrive", "env", "index", "times")

    def __init__(self, env: simpy.Environment, curve: RateCurve, duration: float,
                 rng: np.random.Generator, arrive: Callable[[], None]):
        self.env, self.arrive = env, arrive
        self._chunks = curve.chunks(0.0, duration, rng)
        self._firing = (self._fire,)
        self.times: list[float] = []
        self.index = 0
        self._next()

    def _next(self) -> None:
        while self.index == len(self.times):
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self.times = chunk.tolist()
            self.index = 0
        wake(self.env, self.times[self.index] - self.env._now, self, self._firing)
        self.index += 1

    def _fire(self, _self: _Arrivals) -> None:
        self.arrive()
        index, times = self.index, self.times
        if index == len(times):
            self._next()
            return
        # _next's common case with wake() written out: once per session, the calls cost
        # more than the push (wakeup.py).
        env = self.env
        now = env._now
        self.callbacks = self._firing
        entry = (now + (times[index] - now), NORMAL, next(env._eid), self)
        heappush(env._queue, entry)  # type: ignore[misc]  # a Wakeable: see wakeup.py
        self.index = index + 1
