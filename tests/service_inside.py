"""The checkout served in a thread of the test process: real HTTP on 127.0.0.1 and a real
database, with the service's own objects at hand: its store's clock (set by the test, so that
reservations lapse when the test says, and the background sweeper left out) and its
gateway's ledger (every approved charge, by order)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtests.target.app import Service, create_app
from loadtests.target.gateway import Ledger
from loadtests.target.launch import serving
from loadtests.target.service import ServiceConfig, build_service


class Clock:
    """Wall-clock time that moves only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Inside:
    url: str
    service: Service
    clock: Clock
    ledger: Ledger
    client: httpx.Client
    """Shared by the test's threads (httpx clients are thread-safe): a client per request
    would spend more time building TLS contexts than the shop spends answering."""

    def reset(self) -> None:
        """A fresh shop: stock re-seeded, no orders, an empty ledger."""
        store = self.service.store
        store.seed(self.service.seeds, self.service.shards, self.service.ttl)
        self.ledger.clear()

    def reserve(self, shopper: str, sku: str = "HOT", qty: int = 1) -> httpx.Response:
        return self.client.post("/orders", json={"items": [{"sku": sku, "qty": qty}]},
                                headers={"X-Shopper-Id": shopper})

    def pay(self, order: str, shopper: str | None, channel: str = "approve",
            key: str | None = None) -> httpx.Response:
        headers = {"X-Shopper-Id": shopper} if shopper is not None else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/orders/{order}/pay", json={"channel": channel},
                                headers=headers)


@contextmanager
def inside(db: str, scenario: Path, token: str = "test-token", ttl: float = 60.0
           ) -> Iterator[Inside]:
    service = build_service(ServiceConfig(scenario=str(scenario), db=db, admin_token=token,
                                          reservation_ttl=ttl))
    clock = Clock()
    service.store.clock = clock
    service.sweep_every = 3600.0  # the test sweeps (Store.expire) when it means to
    service.store.create()
    ledger = service.gateway.keep_ledger()
    with serving(create_app(service)) as url, \
            httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(
                max_keepalive_connections=8, keepalive_expiry=2.0)) as client:
        running = Inside(url, service, clock, ledger, client)
        running.reset()
        yield running
    service.store.close_all()
