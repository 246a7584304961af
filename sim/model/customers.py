"""Shoppers: sessions that walk their segment's funnel, one platform request per step.

A session is home -> product views -> cart -> checkout -> pay, each step after a think time,
each step conditional on the one before (the funnel). Checkout reserves a unit of the SKU in
the cart (inventory.py) while holding its platform worker; pay goes through the payment
gateway (payments.py) after the worker is released.

Two kinds of failure, two kinds of retry:

- the platform fails a step (timeout or 503): the shopper retries after ``customers.retry``
  backoff up to ``max_attempts`` in all, then gives up (a lost sale if the cart was filled);
- the gateway declines a payment: the shopper retries per ``payments.retry``, moving to
  their next preferred channel after ``switch_channel_after`` failures on one; after the last
  failure the order is lost and the reservation returns to stock when it expires.

Flash-sale buyers (flash_sales.py) skip home and go straight to the deal; scalper bots among
them skip think time, retry at once, and reuse identities to test the per-user limit.

The rules themselves (journey planning, both retry policies, the channel rule) are
``sim.behaviour``'s, which the drill follows too; this module executes them in simulated time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import NORMAL

from ..behaviour.journeys import CART, CHECKOUT, FLASH_STEPS, HOME, PAY, PRODUCT, JourneyPlanner
from ..behaviour.retries import PlatformRetry, next_channel, payment_retry, platform_retry
from ..scenario.schema import FlashSale, Scenario
from .calendar import Calendar
from .inventory import Inventory, Reservation, Stock
from .outcomes import CouponFigures, Losses, Lost
from .payments import Gateway
from .platform import OK, Request, Servers
from .streams import pool, uniforms
from .support import Support
from .wakeup import Wakeable, wake

STAGES = ("browse", "cart", "checkout", "pay")
"""How far a session got: it viewed products only, or reached cart, checkout or pay."""
_STAGE_OF = {CART: 1, CHECKOUT: 2, PAY: 3}
LOST_CAUSES = ("errors", "sold_out", "payment_failed", "limit_exceeded", "sale_closed",
               "reservation_expired")
"""Why a sale was lost: gave up after platform errors, no stock, payment declined, over the
per-user limit, checkout after the flash sale ended, or paid after the reservation expired."""


class Session(Wakeable):
    """One shopper's visit: the steps planned up front, walked one request at a time (and the
    event that ends its think time or backoff)."""

    __slots__ = ("attempt", "bot", "channel", "channel_failures", "channels", "pay_attempt",
                 "position", "reservation", "sale", "shopper", "sku", "steps", "value")

    def __init__(self, steps: tuple[int, ...], value: float, sku: Stock | None,
                 channels: tuple[int, ...]):
        self.steps = steps
        """Endpoint index of each step, in order."""
        self.position = 0
        self.attempt = 1
        """Attempt at the current step (platform errors)."""
        self.value = value
        """Basket value: GMV if the session pays, a lost sale if it fails after the cart."""
        self.sku = sku
        """What is in the cart (None when there is no inventory to reserve from)."""
        self.shopper: int | None = None
        """A reused identity (bots); None for a one-visit shopper."""
        self.bot = False
        self.sale: int | None = None
        """Index of the flash sale this session came for."""
        self.reservation: Reservation | None = None
        self.channels = channels
        """Payment channels, most preferred first (sim.behaviour.retries)."""
        self.channel = 0
        """Position in ``channels`` of the channel paid with now."""
        self.channel_failures = 0
        self.pay_attempt = 1


class Tally:
    """Counters of what sessions did; plain numbers, summed at the end of a replication."""

    def __init__(self) -> None:
        self.sessions = 0
        self.finished = 0
        self.orders = 0
        self.gmv = 0.0
        self.retries = 0
        self.gave_up = [0] * len(STAGES)
        """Sessions that gave up after platform errors, by the stage they had reached."""
        self.lost = dict.fromkeys(LOST_CAUSES, 0.0)
        """Value of sales lost, by cause."""
        self.lost_count = dict.fromkeys(self.lost, 0)

    def losses(self) -> Losses:
        """The sales lost so far, by cause, and where sessions gave up."""
        return Losses(
            count=sum(self.lost_count.values()),
            value=sum(self.lost.values()),
            by_cause={cause: Lost(n, self.lost[cause]) for cause, n in self.lost_count.items()},
            gave_up=dict(zip(STAGES, self.gave_up, strict=True)),
        )


class Shoppers:
    """Starts sessions and moves them along their steps."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, servers: Servers,
                 journeys: np.random.Generator, rng: np.random.Generator, inventory: Inventory,
                 gateway: Gateway | None, support: Support | None):
        """``journeys`` feeds only the journey planner (the drill plans from the same stream);
        ``rng`` the draws made as sessions go (think times, coupons)."""
        self.env = env
        self.servers = servers
        self.inventory = inventory
        self.gateway = gateway
        self.support = support
        self.tally = Tally()
        self.scenario = scenario
        self._plan = JourneyPlanner.from_stream(scenario, journeys).plan
        self._think = pool(scenario.customers.think_time, rng)
        self._uniform = uniforms(rng)
        self._retry = platform_retry(scenario)
        self._payment_retry = payment_retry(scenario)
        self._catalog: list[Stock] = []
        if scenario.catalog is not None:
            self._catalog = [inventory.skus[s.id] for s in scenario.catalog.skus]
        self.bot_retry: list[PlatformRetry] = []
        self.sale_prices: list[float] = []
        self.sale_stock: list[Stock] = []
        self.sale_end: list[float] = []
        self.sale_stats: list[dict[str, int]] = []
        self._step_done = self.step_done
        self._calendar = calendar = Calendar(env)
        self._held, self._per = calendar.held, calendar.per
        self._sending = (self._send,)
        self._coupons = list(scenario.promotions.coupons) if scenario.promotions else []
        self._coupon_uses = [0] * len(self._coupons)
        self._coupon_discount = [0.0] * len(self._coupons)

    def _apply_coupons(self, value: float) -> None:
        """Each coupon is taken independently by its take rate, where the order qualifies."""
        for i, coupon in enumerate(self._coupons):
            if value < coupon.threshold or self._uniform() >= coupon.take_rate:
                continue
            discount = value * coupon.percent if coupon.kind == "percent" else coupon.off
            self._coupon_uses[i] += 1
            self._coupon_discount[i] += min(discount, value)

    def coupon_figures(self) -> dict[str, CouponFigures]:
        return {c.name: CouponFigures(self._coupon_uses[i], self._coupon_discount[i])
                for i, c in enumerate(self._coupons)}

    # -- starting sessions -------------------------------------------------------------------
    def arrive(self) -> None:
        """A new session from the traffic curve: plan its steps, send its first request."""
        steps, sku, value, channels = self._plan()
        session = Session(steps, value, self._catalog[sku] if sku is not None else None,
                          channels)
        self.tally.sessions += 1
        self.servers.submit(Request(HOME, self._step_done, session))

    def add_flash_sale(self, sale: FlashSale, stock: Stock, end: float) -> int:
        self.sale_stock.append(stock)
        self.sale_prices.append(sale.sku.price)
        self.sale_end.append(end)
        self.bot_retry.append(platform_retry(self.scenario, sale, bot=True))
        self.sale_stats.append({"buyers": 0, "bots": 0, "served": 0, "misses": 0,
                                "sold_out": 0, "closed": 0, "limit_exceeded": 0})
        return len(self.sale_stock) - 1

    def arrive_for_sale(self, sale: int, bot: bool, identity: int | None,
                        channels: tuple[int, ...]) -> None:
        """A flash-sale buyer: straight to the deal, cart, checkout and pay."""
        session = Session(FLASH_STEPS, self.sale_prices[sale], self.sale_stock[sale],
                          channels)
        session.sale, session.bot, session.shopper = sale, bot, identity
        stats = self.sale_stats[sale]
        stats["buyers"] += 1
        stats["bots"] += bot
        self.tally.sessions += 1
        self.servers.submit(Request(PRODUCT, self._step_done, session))

    # -- moving along ------------------------------------------------------------------------
    def step_done(self, request: Request, outcome: int) -> None:
        session: Session = request.owner
        if outcome != OK:
            self._platform_error(session)
            return
        session.attempt = 1
        step = session.steps[session.position]
        if step == CHECKOUT and session.sku is not None:
            result = request.result
            if not isinstance(result, Reservation):
                self._miss(session, result)
                return
            session.reservation = result
        elif step == PAY and self.gateway is not None and not request.result:
            self._payment_failed(session)
            return
        position = session.position = session.position + 1
        if position == len(session.steps):
            self._complete(session)
        elif session.bot:
            self._send(session)
        else:
            # The think time, then the session sends its next request (_send): the request is
            # made when it is sent, so a thinking session holds no request (with ten times
            # the sessions thinking, every object held through a think time is one more
            # fetched from memory rather than the caches when it wakes).
            # The wakeup goes to the think-time calendar, which holds it out of SimPy's heap
            # until its bucket starts (calendar.py); its bucket's append written out, as this
            # runs once per request and a call costs more than the append.
            session.callbacks = self._sending
            env = self.env
            time = env._now + self._think()
            entry = (time, NORMAL, next(env._eid), session)
            held = self._held.get(int(time * self._per))
            if held is not None:
                held.append(entry)
            else:
                self._calendar.add(entry)

    def _after(self, session: Session, delay: float) -> None:
        if delay:
            wake(self.env, delay, session, self._sending)
        else:
            self._send(session)

    def _send(self, session: Session) -> None:
        step = session.steps[session.position]
        if step == CHECKOUT and session.sale is not None \
                and self.env.now >= self.sale_end[session.sale]:
            self._miss(session, "sale_closed")
            return
        request = Request(step, self._step_done, session)
        if step == CHECKOUT:
            request.payload = (session.sku, session.shopper, session.bot)
        elif step == PAY and self.gateway is not None:
            request.payload = (session.channels[session.channel], session.pay_attempt > 1)
        self.servers.submit(request)

    def _platform_error(self, session: Session) -> None:
        retry = (self.bot_retry[session.sale]  # type: ignore[index]  # bots have a sale
                 if session.bot else self._retry)
        if retry.retries(session.attempt):
            session.attempt += 1
            self.tally.retries += 1
            self._after(session, retry.backoff)
            return
        stage = _STAGE_OF.get(session.steps[session.position], 0)
        self.tally.gave_up[stage] += 1
        if stage:
            self._lose(session, "errors")
        self._end()

    def _payment_failed(self, session: Session) -> None:
        retry = self._payment_retry
        if retry.retries(session.pay_attempt):
            session.pay_attempt += 1
            session.channel_failures += 1
            if retry.switches(session.channel_failures, len(session.channels)):
                session.channel = next_channel(session.channel, len(session.channels))
                session.channel_failures = 0
            self._after(session, retry.backoff)
            return
        self._lose(session, "payment_failed")
        if self.support is not None:
            self.support.maybe_contact("payment_failure",
                                       self.support.spec.contacts.per_payment_failure)
        self._end()

    def _miss(self, session: Session, cause: str) -> None:
        """Checkout found no stock, hit the per-user limit, or the sale had closed."""
        self._lose(session, cause)
        if session.sale is not None:
            stats = self.sale_stats[session.sale]
            stats["misses"] += 1
            stats[cause if cause != "sale_closed" else "closed"] += 1
            if self.support is not None:
                self.support.maybe_contact("flash_sale_miss",
                                           self.support.spec.contacts.per_flash_sale_miss)
        self._end()

    def _complete(self, session: Session) -> None:
        """The last step succeeded: a paid order when the journey ended with pay."""
        if session.steps[-1] != PAY:
            self._end()
            return
        if session.reservation is None:
            self._order(session)
            return
        self.inventory.sell(session.reservation, lambda sold: self._sold(session, sold))

    def _sold(self, session: Session, sold: bool) -> None:
        if sold:
            self._order(session)
        else:
            self._lose(session, "reservation_expired")
            self._end()

    def _order(self, session: Session) -> None:
        tally = self.tally
        tally.orders += 1
        tally.gmv += session.value
        if self._coupons:
            self._apply_coupons(session.value)
        if session.sale is not None:
            self.sale_stats[session.sale]["served"] += 1
        if self.support is not None:
            self.support.after_order()
        self._end()

    def _lose(self, session: Session, cause: str) -> None:
        self.tally.lost[cause] += session.value
        self.tally.lost_count[cause] += 1

    def _end(self) -> None:
        """A session is over, whichever way (its figures were counted where it ended)."""
        self.tally.finished += 1


def checkout_work(inventory: Inventory) -> Callable[[Request, Callable[[], None]], None]:
    """The part of a checkout that holds the worker: reserving stock under the SKU's lock."""

    def work(request: Request, done: Callable[[], None]) -> None:
        payload = request.payload
        if payload is None or payload[0] is None:
            done()
            return
        sku, shopper, bot = payload

        def reserved(result: Reservation | str) -> None:
            request.result = result
            done()

        inventory.reserve(sku, shopper, bot, reserved)

    return work


def pay_wait(gateway: Gateway) -> Callable[[Request, Callable[[], None]], None]:
    """The part of a payment after the worker is released: waiting for the gateway."""

    def wait(request: Request, done: Callable[[], None]) -> None:
        channel, retry = request.payload

        def answered(ok: bool) -> None:
            request.result = ok
            done()

        gateway.charge(channel, retry, answered)

    return wait
