"""Shoppers: sessions that walk their segment's funnel, one platform request per step.

A session is home -> product views -> cart -> checkout -> pay, each step after a think time,
each step conditional on the one before (the funnel). A failed step (timeout or 503) is retried
after ``backoff`` up to ``max_attempts`` in all; then the shopper gives up, and a shopper who had
put something in the cart is a lost sale. Every retry is a new request: a slow platform makes
itself slower.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np
import simpy

from ..scenario.schema import ENDPOINTS, Scenario
from .platform import OK, Request, Servers
from .streams import Pool, Uniforms
from .wakeup import later

HOME, PRODUCT, CART, CHECKOUT, PAY = (ENDPOINTS.index(e)
                                      for e in ("home", "product", "cart", "checkout", "pay"))
STAGES = ("browse", "cart", "checkout", "pay")
"""How far a session got: it viewed products only, or reached cart, checkout or pay."""


class Session:
    """One shopper's visit: the steps planned up front, walked one request at a time."""

    __slots__ = ("attempt", "position", "steps", "value")

    def __init__(self, steps: list[int], value: float):
        self.steps = steps
        """Endpoint index of each step, in order."""
        self.position = 0
        self.attempt = 1
        self.value = value
        """Basket value: GMV if the session pays, a lost sale if it gives up after the cart."""


class Tally:
    """Counters of what sessions did; plain ints, summed at the end of a replication."""

    __slots__ = ("finished", "gave_up", "gmv", "lost_value", "orders", "retries", "sessions")

    def __init__(self) -> None:
        self.sessions = 0
        self.finished = 0
        self.orders = 0
        self.gmv = 0.0
        self.retries = 0
        self.gave_up = [0] * len(STAGES)
        """Sessions that gave up after errors, by the stage they had reached."""
        self.lost_value = 0.0
        """Basket value of sessions that gave up at cart, checkout or pay."""


class Shoppers:
    """Starts sessions and moves them along their steps."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, servers: Servers,
                 rng: np.random.Generator):
        self.env = env
        self.servers = servers
        self.tally = Tally()
        customers = scenario.customers
        segments = list(customers.segments.values())
        shares = np.cumsum([s.share for s in segments]).tolist()
        self._shares = [*shares[:-1], 1.0]
        """Cumulative segment shares, for picking a segment with one uniform draw."""
        self._views = [None if s.product_views.is_zero else Pool(s.product_views, rng)
                       for s in segments]
        self._funnel = [(s.funnel.cart, s.funnel.checkout, s.funnel.pay) for s in segments]
        self._value = [self._value_source(s.basket_value, scenario, rng) for s in segments]
        self._think = Pool(customers.think_time, rng)
        self._uniform = Uniforms(rng)
        self._max_attempts = customers.retry.max_attempts
        self._backoff = customers.retry.backoff

    @staticmethod
    def _value_source(dist, scenario: Scenario, rng: np.random.Generator) -> Callable[[], float]:
        """Basket value: the segment's distribution, else the price of a SKU by popularity."""
        if dist is not None:
            return Pool(dist, rng)
        if scenario.catalog is None:
            return float
        skus = scenario.catalog.skus
        weights = np.array([s.popularity for s in skus], dtype=float)
        prices = [s.price for s in skus]
        if weights.sum() == 0:
            weights[:] = 1
        cumulative = np.cumsum(weights / weights.sum()).tolist()
        uniform = Uniforms(rng)
        return lambda: prices[min(bisect_right(cumulative, uniform()), len(prices) - 1)]

    def arrive(self) -> None:
        """A new session starts: plan its steps and send its first request."""
        u = self._uniform
        segment = bisect_right(self._shares, u()) if len(self._shares) > 1 else 0
        views = self._views[segment]
        steps = [HOME] + [PRODUCT] * int(views()) if views is not None else [HOME]
        p_cart, p_checkout, p_pay = self._funnel[segment]
        value = 0.0
        if p_cart and u() < p_cart:
            steps.append(CART)
            value = self._value[segment]()
            if p_checkout and u() < p_checkout:
                steps.append(CHECKOUT)
                if p_pay and u() < p_pay:
                    steps.append(PAY)
        self.tally.sessions += 1
        self.servers.submit(Request(HOME, self.step_done, Session(steps, value)))

    def step_done(self, request: Request, outcome: int) -> None:
        session: Session = request.owner
        if outcome == OK:
            session.position += 1
            session.attempt = 1
            if session.position == len(session.steps):
                self._finish(session, paid=session.steps[-1] == PAY)
            else:
                later(self.env, self._think(), self._send, session)
        elif session.attempt < self._max_attempts:
            session.attempt += 1
            self.tally.retries += 1
            later(self.env, self._backoff, self._send, session)
        else:
            stage = _stage(session.steps[session.position])
            self.tally.gave_up[stage] += 1
            if stage:
                self.tally.lost_value += session.value
            self._finish(session, paid=False)

    def _send(self, event: simpy.Event) -> None:
        session: Session = event._value
        self.servers.submit(Request(session.steps[session.position], self.step_done, session))

    def _finish(self, session: Session, paid: bool) -> None:
        tally = self.tally
        tally.finished += 1
        if paid:
            tally.orders += 1
            tally.gmv += session.value


def _stage(endpoint: int) -> int:
    return {CART: 1, CHECKOUT: 2, PAY: 3}.get(endpoint, 0)
