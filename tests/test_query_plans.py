"""No shopper's request reads a whole table that grows with the day's traffic.

A full scan costs nothing in a test's empty shop and grows with every order: a checkout
whose pay read every payment ever made got dearer through a drill (calibrations minutes
apart found pay 7-30% dearer the second time). Every statement a shopper's journey sends
(home to pay, an order read back, a support ticket) is asked for SQLite's query plan, with
the values it was sent with. And the keys the service makes sort by creation, so each insert
appends to its table's B-tree instead of dirtying a page anywhere in it.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from loadtests.target.store import Store

from .conftest import CHECKOUT_SHOP as SHOP
from .service_inside import inside

GROWING = ("carts", "orders", "order_items", "limits", "payments", "tickets")
"""Tables with rows per shopper, order or payment."""


def test_a_journeys_statements_read_growing_tables_by_index(monkeypatch, tmp_path):
    sent: list[tuple[str, tuple[Any, ...]]] = []
    run = Store._run

    def recorded(self: Store, statement: str, *args: Any) -> Any:
        sent.append((statement, args))
        return run(self, statement, *args)

    database = tmp_path / "c.db"
    with inside(f"sqlite:///{database}", SHOP) as shop:
        shop.reset()
        monkeypatch.setattr(Store, "_run", recorded)
        shopper = {"X-Shopper-Id": "ana"}
        assert shop.client.get("/").status_code == 200
        assert shop.client.get("/products/HOT").status_code == 200
        cart = shop.client.post("/cart", json={"sku": "HOT", "qty": 1}, headers=shopper)
        order = shop.client.post("/orders", json={"cart_id": cart.json()["cart_id"]},
                                 headers=shopper).json()["order_id"]
        assert shop.pay(order, "ana", key=str(uuid.uuid4())).status_code == 200
        assert shop.client.get(f"/orders/{order}", headers=shopper).status_code == 200
        assert shop.client.post("/support/tickets", json={"topic": "where"},
                                headers=shopper).status_code == 201
        monkeypatch.undo()
    statements = {s for s, _ in sent}
    assert any("payments" in s for s in statements), "the journey paid nothing"
    scans = []
    with sqlite3.connect(database) as db:
        for statement, args in dict(sent).items():
            for *_, detail in db.execute(f"EXPLAIN QUERY PLAN {statement}", args):
                if detail.startswith("SCAN") and detail.split()[1] in GROWING:
                    scans.append(f"{detail}: {statement}")
    assert not scans, scans


def test_the_keys_the_service_makes_sort_by_creation(tmp_path):
    """Carts, orders, tickets and payments with no Idempotency-Key, made a few milliseconds
    apart, get keys in the order they were made, each a version-7 UUID's hex."""
    with inside(f"sqlite:///{tmp_path / 'c.db'}", SHOP) as shop:
        shop.reset()
        shopper = {"X-Shopper-Id": "ana"}
        made: dict[str, list[str]] = {"cart": [], "order": [], "ticket": []}
        for _ in range(4):
            cart = shop.client.post("/cart", json={"sku": "CALM", "qty": 1}, headers=shopper)
            made["cart"].append(cart.json()["cart_id"])
            made["order"].append(shop.client.post("/orders", json={
                "cart_id": made["cart"][-1]}, headers=shopper).json()["order_id"])
            made["ticket"].append(shop.client.post("/support/tickets", json={"topic": "where"},
                                                   headers=shopper).json()["ticket_id"])
            time.sleep(0.003)
        for order in made["order"][:2]:
            assert shop.pay(order, "ana", key=None).status_code == 200
            time.sleep(0.003)
        with sqlite3.connect(tmp_path / "c.db") as db:
            made["payment"] = [key for key, in db.execute(
                "SELECT idem_key FROM payments ORDER BY rowid")]
    for kind, keys in made.items():
        assert keys == sorted(keys), (kind, keys)
        assert all(uuid.UUID(k).version == 7 and k == uuid.UUID(k).hex for k in keys), keys
    assert len({k for keys in made.values() for k in keys}) == 14
