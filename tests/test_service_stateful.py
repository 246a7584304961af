"""The checkout against a model of itself: Hypothesis drives the real service (real HTTP on
127.0.0.1, SQLite, and PostgreSQL when available) with random sequences of carts, orders,
payments (retried, with reused keys, racing), rushes of shoppers, time passing and sweeps,
and checks after every step what a shop relies on:

- stock is conserved (initial = available + reserved + sold) and never oversold, and matches
  what the model expects from the answers;
- a paid order stays paid; a lapsed reservation is never sold;
- the gateway keeps at most one charge per order, exactly one for a paid order;
- only the order's shopper can pay it, and an Idempotency-Key names one payment.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from .conftest import ROOT
from .service_inside import Inside, inside

SHOP = ROOT / "tests" / "data" / "stateful-shop.yaml"
TTL = 60.0
SHOPPERS = ("ann", "bob", "cy")
LIMIT = 2
"""The shop's per-shopper limit (catalog.per_user_limit)."""
RUNS = settings(max_examples=40, stateful_step_count=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Order:
    owner: str
    items: list[tuple[str, int]]
    expires_at: float
    status: str = "reserved"
    """reserved, paid, or expired (swept back to stock)."""


@dataclass(frozen=True)
class Payment:
    order: str
    channel: str
    status: int
    body: dict


class CheckoutModel(RuleBasedStateMachine):
    """What the shop should hold, step by step; the service must agree after each one."""

    orders = Bundle("orders")

    def __init__(self, shop: Inside):
        super().__init__()
        self.shop = shop
        shop.reset()
        stock = shop.service.store.stock()
        self.initial = {sku: figures["initial"] for sku, figures in stock.items()}
        self.available = dict(self.initial)
        self.model: dict[str, Order] = {}
        self.held: Counter[tuple[str, str]] = Counter()
        """(shopper, SKU) -> units counted against the per-shopper limit."""
        self.payments: dict[str, Payment] = {}
        """Idempotency-Key -> the payment it made (claimed keys only), in order of use."""
        self.issued = 0

    # -- what the model expects ------------------------------------------------------------
    def refusal(self, shopper: str, items: list[tuple[str, int]]) -> str | None:
        """The store's answer to a reservation, item by item: the first refusal wins."""
        held, available = Counter(self.held), dict(self.available)
        for sku, qty in items:
            held[(shopper, sku)] += qty
            if held[(shopper, sku)] > LIMIT:
                return "limit_exceeded"
            if available[sku] < qty:
                return "sold_out"
            available[sku] -= qty
        return None

    def reserved(self, shopper: str, items: list[tuple[str, int]], reply: httpx.Response
                 ) -> str:
        body = reply.json()
        self.model[body["order_id"]] = Order(shopper, items, body["expires_at"])
        for sku, qty in items:
            self.held[(shopper, sku)] += qty
            self.available[sku] -= qty
        return body["order_id"]

    def lapsed(self, order: Order) -> bool:
        return order.status == "expired" or (order.status == "reserved"
                                             and order.expires_at < self.shop.clock())

    def expected_refusal(self, order: Order) -> str | None:
        if order.status == "paid":
            return "already_paid"
        return "reservation_expired" if self.lapsed(order) else None

    # -- rules -----------------------------------------------------------------------------
    @rule(target=orders, shopper=st.sampled_from(SHOPPERS),
          items=st.lists(st.tuples(st.sampled_from("AB"), st.integers(1, 2)), min_size=1,
                         max_size=2, unique_by=lambda item: item[0]),
          via_cart=st.booleans())
    def reserve(self, shopper, items, via_cart):
        headers = {"X-Shopper-Id": shopper}
        if via_cart and len(items) == 1:
            sku, qty = items[0]
            cart = self.shop.client.post("/cart", json={"sku": sku, "qty": qty},
                                         headers=headers)
            assert cart.status_code == 201, cart.text
            body: dict = {"cart_id": cart.json()["cart_id"]}
        else:
            body = {"items": [{"sku": sku, "qty": qty} for sku, qty in items]}
        expected = self.refusal(shopper, items)
        reply = self.shop.client.post("/orders", json=body, headers=headers)
        if expected is None:
            assert reply.status_code == 201, reply.text
            return self.reserved(shopper, items, reply)
        assert (reply.status_code, reply.json()["error"]) == (409, expected)
        return multiple()

    @rule(target=orders, sku=st.sampled_from("AB"),
          shoppers=st.sets(st.sampled_from(SHOPPERS), min_size=2))
    def rush(self, sku, shoppers):
        """Several shoppers reserve one unit of the same SKU at the same moment."""
        start = threading.Barrier(len(shoppers))
        replies: dict[str, httpx.Response] = {}

        def buy(shopper: str) -> None:
            start.wait()
            replies[shopper] = self.shop.reserve(shopper, sku)

        threads = [threading.Thread(target=buy, args=(s,)) for s in sorted(shoppers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        eligible = [s for s in shoppers if self.held[(s, sku)] < LIMIT]
        winners = [s for s, r in replies.items() if r.status_code == 201]
        assert set(winners) <= set(eligible)
        assert len(winners) == min(len(eligible), self.available[sku]), \
            {s: r.text for s, r in replies.items()}
        for shopper, reply in replies.items():
            if reply.status_code != 201:
                word = "sold_out" if shopper in eligible else "limit_exceeded"
                assert (reply.status_code, reply.json()["error"]) == (409, word)
        return multiple(*(self.reserved(s, [(sku, 1)], replies[s]) for s in sorted(winners)))

    def fresh_key(self) -> str:
        """Keys numbered in order (the database is emptied between examples): a failing
        sequence replays with the same keys."""
        self.issued += 1
        return f"key-{self.issued}"

    @rule(order=orders, payer=st.sampled_from(("owner", "owner", *SHOPPERS, None)),
          channel=st.sampled_from(("approve", "decline")),
          reuse=st.sampled_from(("fresh", "this order's", "any")), pick=st.integers(0, 99))
    def pay(self, order, payer, channel, reuse, pick):
        """One payment: by the owner or not, with a fresh key or one used before (for this
        order, perhaps with another channel, or for any order)."""
        known = self.model[order]
        payer = known.owner if payer == "owner" else payer
        used = [k for k, p in self.payments.items() if reuse == "any" or p.order == order]
        key = used[pick % len(used)] if reuse != "fresh" and used else self.fresh_key()
        asked = self.asked()
        reply = self.shop.pay(order, payer, channel, key)
        body = reply.json()
        if payer is None:
            assert (reply.status_code, body["error"]) == (400, "missing_shopper")
        elif payer != known.owner:
            assert (reply.status_code, body["error"]) == (404, "unknown_order")
        elif key in self.payments:
            first = self.payments[key]
            if (first.order, first.channel) == (order, channel):
                assert (reply.status_code, body) == (first.status, first.body), "a replay"
            else:
                assert (reply.status_code, body["error"]) == (422, "idempotency_key_reused")
        else:
            self.answered(order, channel, key, reply, asked)
            return
        assert self.asked() == asked, "the gateway is not asked"

    @rule(order=orders, racers=st.integers(2, 4), same_key=st.booleans())
    def racing_pays(self, order, racers, same_key):
        """The owner pays the same order from several tabs at once."""
        known = self.model[order]
        keys = [self.fresh_key()] * racers if same_key else \
            [self.fresh_key() for _ in range(racers)]
        start = threading.Barrier(racers)
        replies: list[tuple[str, httpx.Response]] = []
        asked = self.asked()

        def pay(key: str) -> None:
            start.wait()
            replies.append((key, self.shop.pay(order, known.owner, "approve", key)))

        threads = [threading.Thread(target=pay, args=(k,)) for k in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        refusal = self.expected_refusal(known)
        codes = Counter(reply.status_code for _, reply in replies)
        if refusal is not None:
            assert codes == {409: racers}
            assert {reply.json()["error"] for _, reply in replies} == {refusal}
            assert self.asked() == asked, "the gateway is not asked"
            return
        assert self.asked() == asked + 1, "one charge, whoever raced"
        if same_key:
            assert codes == {200: racers}
        else:
            assert codes == {200: 1, 409: racers - 1}
            assert {r.json().get("error") for _, r in replies if r.status_code == 409} == \
                {"already_paid"}
        key, winner = next((k, r) for k, r in replies if r.status_code == 200)
        self.answered(order, "approve", key, winner, asked)

    def asked(self) -> int:
        """Charges the gateway has been asked for, in all."""
        return sum(self.shop.ledger.asked.values())

    def answered(self, order: str, channel: str, key: str, reply: httpx.Response,
                 asked: int) -> None:
        """Check a fresh key's payment of the owner's order against the model, and record it
        (``asked``: the gateway's count before it)."""
        known = self.model[order]
        refusal = self.expected_refusal(known)
        body = reply.json()
        if refusal is not None:
            assert (reply.status_code, body["error"]) == (409, refusal)
            assert self.asked() == asked, "a payment that cannot sell is not charged"
            return
        if channel == "decline":
            assert (reply.status_code, body["error"]) == (402, "declined")
        else:
            assert (reply.status_code, body["status"]) == (200, "paid")
            known.status = "paid"
        self.payments[key] = Payment(order, channel, reply.status_code, body)

    @rule(seconds=st.sampled_from((TTL / 2, TTL + 1)))
    def time_passes(self, seconds):
        self.shop.clock.advance(seconds)

    @rule()
    def sweep(self):
        due = [o for o in self.model.values() if o.status == "reserved" and self.lapsed(o)]
        assert self.shop.service.store.expire() == len(due)
        for order in due:
            order.status = "expired"
            for sku, qty in order.items:
                self.available[sku] += qty
                self.held[(order.owner, sku)] -= qty

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def stock_is_conserved_and_as_the_model_says(self):
        stock = self.shop.service.store.stock()
        for sku, figures in stock.items():
            assert figures["available"] + figures["reserved"] + figures["sold"] == \
                figures["initial"], (sku, figures)
            assert figures["sold"] <= figures["initial"], "oversold"
            sold = sum(q for o in self.model.values() if o.status == "paid"
                       for s, q in o.items if s == sku)
            assert (figures["available"], figures["sold"]) == (self.available[sku], sold), \
                (sku, figures)
        assert self.shop.service.store.check() == []

    @invariant()
    def paid_orders_stay_paid_and_are_charged_exactly_once(self):
        ledger, store = self.shop.ledger, self.shop.service.store
        for order_id, order in self.model.items():
            paid = order.status == "paid"
            assert (store.order(order_id)["status"] == "paid") == paid, order_id
            assert ledger.kept(order_id) == int(paid), (order_id, ledger)
            assert ledger.approved[order_id] <= 1, "charged twice"


@pytest.mark.slow
def test_the_checkout_holds_its_invariants_whatever_shoppers_do(database):
    with inside(database, SHOP, ttl=TTL) as shop:
        run_state_machine_as_test(lambda: CheckoutModel(shop), settings=RUNS)
