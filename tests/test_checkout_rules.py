"""The checkout's rules about who pays, how often and until when, and about bad clients:
a real server (in this process, so the test can read the gateway's ledger and set the clock)
over real HTTP on 127.0.0.1, on SQLite and, when available, PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest

from loadtests.target.launch import bearer
from loadtests.target.protocol import READ_TIMEOUT

from .conftest import CHECKOUT_SHOP as SHOP
from .service_inside import Inside, inside

TTL = 60.0


@pytest.fixture
def shop(database):
    with inside(database, SHOP, ttl=TTL) as running:
        yield running


def order_of(shop: Inside, shopper: str, sku: str = "HOT") -> str:
    reply = shop.reserve(shopper, sku)
    assert reply.status_code == 201, reply.text
    return reply.json()["order_id"]


def test_only_the_orders_shopper_pays_it(shop):
    order = order_of(shop, "ann")
    other = shop.pay(order, "bob")
    assert other.status_code == 404 and other.json()["error"] == "unknown_order"
    nobody = shop.pay(order, None)
    assert nobody.status_code == 400 and nobody.json()["error"] == "missing_shopper"
    assert shop.ledger.asked[order] == 0
    assert shop.service.store.order(order)["status"] == "reserved"
    assert shop.pay(order, "ann").status_code == 200
    assert shop.ledger.kept(order) == 1


def test_an_idempotency_key_names_one_payment(shop):
    """Stripe's rule: same key and parameters replay the answer; other parameters are refused."""
    order, second = order_of(shop, "ann"), order_of(shop, "ann", "CALM")
    first = shop.pay(order, "ann", key="k-1")
    assert first.status_code == 200
    replay = shop.pay(order, "ann", key="k-1")
    assert (replay.status_code, replay.json()) == (200, first.json())
    for reused in (shop.pay(order, "ann", channel="decline", key="k-1"),
                   shop.pay(second, "ann", key="k-1")):
        assert reused.status_code == 422
        assert reused.json()["error"] == "idempotency_key_reused"
        assert "first used to pay order" in reused.json()["detail"]
    assert shop.pay(order, "bob", key="k-1").status_code == 404, "another shopper: not theirs"
    assert shop.ledger.asked == Counter({order: 1})
    assert shop.service.store.order(second)["status"] == "reserved"


def test_a_lapsed_reservation_is_not_sold_even_before_the_sweeper_runs(shop):
    order = order_of(shop, "ann")
    shop.clock.advance(TTL + 1)  # lapsed; no sweep has run
    late = shop.pay(order, "ann")
    assert late.status_code == 409 and late.json()["error"] == "reservation_expired"
    assert shop.ledger.asked[order] == 0, "the gateway was never asked"
    assert shop.service.store.stock()["HOT"]["reserved"] == 1, "the sweeper returns it"
    assert shop.service.store.expire() == 1
    assert shop.service.store.stock()["HOT"] == {"initial": 100, "available": 100,
                                                 "reserved": 0, "sold": 0}


def test_a_charge_approved_after_the_reservation_lapsed_is_refunded(shop):
    """The clock passes the expiry while the gateway (200 ms) answers: no sale, no charge."""
    order = order_of(shop, "ann")
    shop.clock.advance(TTL - 0.001)
    answer: list[httpx.Response] = []
    paying = threading.Thread(target=lambda: answer.append(shop.pay(order, "ann")))
    paying.start()
    time.sleep(0.1)
    shop.clock.advance(1.0)
    paying.join(timeout=30)
    assert answer[0].status_code == 409 and answer[0].json()["error"] == "reservation_expired"
    assert shop.ledger.kept(order) == 0
    assert shop.service.store.stock()["HOT"]["sold"] == 0


def test_racing_payments_charge_once_and_the_others_hear_already_paid(shop):
    order = order_of(shop, "ann")
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def pay() -> None:
        start.wait()
        answers.append(shop.pay(order, "ann", key=str(uuid.uuid4())))

    racers = [threading.Thread(target=pay) for _ in range(8)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    codes = Counter(a.status_code for a in answers)
    assert codes == {200: 1, 409: 7}, [a.text for a in answers]
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"already_paid"}
    assert shop.ledger.asked == Counter({order: 1}), "the gateway was asked once"
    assert shop.service.store.paid_charges(order) == 1


def test_a_declined_payment_lets_the_next_one_through(shop):
    order = order_of(shop, "ann")
    assert shop.pay(order, "ann", channel="decline").status_code == 402
    assert shop.pay(order, "ann").status_code == 200
    assert shop.pay(order, "ann").json()["error"] == "already_paid"
    assert shop.ledger.asked == Counter({order: 2}) and shop.ledger.kept(order) == 1


def test_admin_tokens_are_compared_as_bytes(database):
    with inside(database, SHOP, token="tökén") as shop:
        stock = f"{shop.url}/admin/stock"
        assert httpx.get(stock, headers=bearer("tökén")).status_code == 200
        for wrong in (bearer("tokén"), bearer("tök"), {"Authorization": b"Bearer t\xf6k\xe9n"},
                      {"Authorization": b"Bearer \xff\xfe"}):
            assert httpx.get(stock, headers=wrong).status_code == 401, wrong
    with inside(database, SHOP) as shop:  # an ASCII token, a non-ASCII header
        reply = httpx.get(f"{shop.url}/admin/stock", headers=bearer("tökén"))
        assert reply.status_code == 401


def test_a_chunked_body_over_the_limit_is_413_as_a_sized_one_is(shop):
    def chunks(size: int):
        for _ in range(size // 1024):
            yield b" " * 1024

    for content in (chunks(100 * 1024), b" " * 100 * 1024):
        reply = httpx.post(f"{shop.url}/cart", content=content, timeout=30,
                           headers={"X-Shopper-Id": "a", "Content-Type": "application/json"})
        assert reply.status_code == 413 and reply.json()["error"] == "payload_too_large"
    small = httpx.post(f"{shop.url}/cart", content=iter([b'{"sku": "HOT",', b' "qty": 1}']),
                       headers={"X-Shopper-Id": "a", "Content-Type": "application/json"})
    assert small.status_code == 201, "a chunked body under the limit is read as usual"


def closed_within(url: str, first: bytes, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes a connection that sent ``first`` and then a byte of
    ``trickle`` every half second (None if it answered instead of closing)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=READ_TIMEOUT + 10) as sock:
        sock.sendall(first)
        sock.settimeout(0.5)
        for byte in trickle:
            try:
                if sock.recv(1024) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                pass
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return time.monotonic() - started
        sock.settimeout(READ_TIMEOUT + 10)
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
    return time.monotonic() - started if data == b"" else None


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_slow_partial_requests_are_released(shop):
    """A connection that sends nothing, half its headers, half its body, or its headers a
    byte every half second, is closed once READ_TIMEOUT has passed; others are served."""
    head = b"POST /cart HTTP/1.1\r\nHost: x\r\nX-Shopper-Id: a\r\nContent-Length: 40\r\n"
    cases = {"nothing": (b"",), "half the headers": (head,),
             "half the body": (head + b"\r\n{\"sku\": ",),
             "a byte at a time": (b"", head + b"X-Pad: " + b"a" * 100)}
    waited: dict[str, float | None] = {}
    threads = [threading.Thread(target=lambda n=name, c=case: waited.update(
        {n: closed_within(shop.url, *c)})) for name, case in cases.items()]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    assert shop.reserve("busy").status_code == 201, "the server still serves others"
    for thread in threads:
        thread.join(timeout=READ_TIMEOUT + 20)
    for name, seconds in waited.items():
        assert seconds is not None and READ_TIMEOUT - 1 <= seconds <= READ_TIMEOUT + 3, \
            (name, seconds)
