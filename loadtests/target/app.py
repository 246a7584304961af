"""The checkout API (FastAPI): the endpoints drills replay a scenario against.

    GET  /                          home
    GET  /products/{sku}            a product and its stock
    POST /cart                      {"sku": "H1", "qty": 1} -> 201 {"cart_id"}
    POST /orders                    {"cart_id"} or {"items": [{"sku", "qty"}]} -> 201 reserved,
                                    409 {"error": "sold_out" | "limit_exceeded"}
    GET  /orders/{order_id}         the shopper's own order and its status
    POST /orders/{order_id}/pay     {"channel"} + Idempotency-Key -> 200 paid, 402 declined
    POST /support/tickets           {"topic"} -> 201
    GET  /healthz, GET /metrics     liveness; Prometheus text
    POST /admin/reset, GET /admin/stock, POST /admin/outages   bearer token

Shoppers are named by the ``X-Shopper-Id`` header; per-user limits count per shopper. Bad
input is a 4xx with a reason, never a 500: bodies are validated by pydantic, sizes capped by
:class:`BodyLimit`, and store refusals mapped to their HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from .gateway import Gateway
from .metrics import Metrics
from .store import Busy, PaymentState, SkuSeed, Store, StoreError, new_id

MAX_BODY = 64 * 1024
"""Bytes a request body may have; beyond it, 413."""
THREADS = 16
"""Threads (and so database connections) per worker process, for a database its calls wait
on over the network (PostgreSQL); SQLite's calls run on the event loop (:func:`_db`)."""

T = TypeVar("T")


@dataclass
class Service:
    """Everything one app instance needs; built by service.py (or a test)."""

    store: Store
    gateway: Gateway
    admin_token: str
    seeds: list[SkuSeed]
    shards: int
    ttl: float
    name: str = "peakday reference checkout"
    sweep_every: float = 1.0
    metrics: Metrics = field(default_factory=Metrics)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Item(Strict):
    """One SKU and how many: the body of ``POST /cart`` and each line of ``POST /orders``."""

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(default=1, ge=1, le=100)


class OrderIn(Strict):
    cart_id: str | None = Field(default=None, max_length=64)
    items: list[Item] | None = Field(default=None, min_length=1, max_length=20)


class PayIn(Strict):
    channel: str = Field(min_length=1, max_length=32)


class TicketIn(Strict):
    topic: str = Field(default="general", min_length=1, max_length=200)


class OutagesIn(Strict):
    failure_rates: dict[str, Annotated[float, Field(ge=0, le=1)]]
    """Channel -> failure rate now; an empty mapping ends every outage."""


async def shopper_id(
        x_shopper_id: Annotated[str | None, Header(alias="X-Shopper-Id", max_length=64)] = None
) -> str:
    """The shopper a request speaks for; without one there is nobody to sell to (400)."""
    if not x_shopper_id:
        raise StoreError("missing_shopper", 400, "the X-Shopper-Id header names the shopper")
    return x_shopper_id


ShopperId = Annotated[str, Depends(shopper_id)]


def create_app(service: Service) -> FastAPI:
    """The checkout app over ``service``: the shop's routes, the admin routes behind the
    token, the body limit, the refusals as JSON, and the reservation sweeper while it runs."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Each worker thread keeps one database connection: bound the threads, and with them
        # the connections a process opens (PostgreSQL allows 100 by default).
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        sweeper = asyncio.create_task(_sweep(service))
        try:
            yield
        finally:
            sweeper.cancel()

    app = FastAPI(title=service.name, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=MAX_BODY, metrics=service.metrics)
    app.exception_handler(StoreError)(_refused)
    app.exception_handler(RequestValidationError)(_invalid)
    app.include_router(shop)
    app.include_router(admin)
    return app


async def _refused(_request: Request, exc: StoreError) -> JSONResponse:
    headers = {"Retry-After": "1"} if isinstance(exc, Busy) else None
    return JSONResponse({"error": exc.code, "detail": exc.detail}, exc.status, headers=headers)


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    reasons = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return JSONResponse({"error": "invalid_request", "detail": reasons}, 422)


async def service_of(request: Request) -> Service:
    """The service the app was created over (on ``app.state``): what every route works on."""
    return request.app.state.service


ServiceOf = Annotated[Service, Depends(service_of)]


async def _admin(service: ServiceOf,
                 authorization: Annotated[str | None, Header()] = None) -> None:
    # Compared as bytes in constant time: the header as sent (Starlette decodes it as
    # latin-1), the token as UTF-8; a non-ASCII header or token is a mismatch, not a 500.
    expected = f"Bearer {service.admin_token}".encode()
    if authorization is None or not secrets.compare_digest(
            authorization.encode("latin-1"), expected):
        raise HTTPException(401, "admin endpoints need 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})


shop = APIRouter()
"""What shoppers (and drills) call."""
admin = APIRouter(prefix="/admin", dependencies=[Depends(_admin)])
"""What the drill's operator calls, with the admin token."""


async def _db(store: Store, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, a call on ``store``, made where its database wants it made.

    SQLite's calls run on the event loop: each takes a fraction of a millisecond and waits
    for nothing but a local file, and handing it to a thread cost more than the call. In
    drills of the flash-sale scenario at ~760 requests/s the threaded server spent 0.99 ms
    of CPU per request, and 1.62 ms in a run where it fell behind (sixteen threads and the
    loop passing the GIL, more of them the more requests were in flight: p95 in seconds);
    on the loop 0.76-1.03 ms over five runs, and its ceiling rose from ~850 requests/s past
    what one Locust process on the same machine can send (~1,380). A server whose cost per
    request grows as it gets busier has no service demand a capacity model can measure.
    PostgreSQL's calls each wait for a round trip to the database: on the loop they would
    serialise the process on it, so they go to a thread (:data:`THREADS`)."""
    if store.dialect.on_loop:
        return call(*args)
    return await run_in_threadpool(call, *args)


def _owned(store: Store, order_id: str, shopper: str) -> dict[str, Any]:
    """The shopper's own order; anyone else's is as unknown as a missing one."""
    found = store.order(order_id)
    if found is None or found["shopper"] != shopper:
        raise StoreError("unknown_order", 404, f"no order {order_id!r} for this shopper")
    return found


@shop.get("/")
async def home(service: ServiceOf) -> dict[str, Any]:
    return {"shop": service.name, "skus": [s.sku for s in service.seeds]}


@shop.get("/products/{sku}")
async def product(sku: str, service: ServiceOf) -> dict[str, Any]:
    return await _db(service.store, service.store.product, sku)


@shop.post("/cart", status_code=201)
async def cart(body: Item, shopper: ShopperId, service: ServiceOf) -> dict[str, Any]:
    store = service.store
    return {"cart_id": await _db(store, store.add_cart, shopper, body.sku, body.qty)}


@shop.post("/orders", status_code=201)
async def orders(body: OrderIn, shopper: ShopperId, service: ServiceOf) -> dict[str, Any]:
    if (body.cart_id is None) == (body.items is None):
        raise StoreError("invalid_request", 422, "give either cart_id or items")
    store = service.store
    items = (await _db(store, store.cart_items, shopper, body.cart_id)
             if body.cart_id is not None else [(i.sku, i.qty) for i in body.items or ()])
    return await _db(store, store.reserve, shopper, items)


@shop.post("/orders/{order_id}/pay")
async def pay(order_id: str, body: PayIn, shopper: ShopperId, service: ServiceOf,
              idempotency_key: Annotated[str | None, Header(max_length=128)] = None
              ) -> JSONResponse:
    """Charge the order once, whoever retries or races: only its shopper may pay it; the
    gateway is called only by the request holding the order's one payment claim."""
    store, gateway = service.store, service.gateway
    if not gateway.knows(body.channel):
        raise StoreError("unknown_channel", 422, f"no payment channel {body.channel!r}")
    await _db(store, _owned, store, order_id, shopper)
    key = idempotency_key or new_id()
    deadline = time.monotonic() + gateway.timeout + 5.0
    provider_ms = 0.0
    while True:
        claim = await _db(store, store.claim_payment, key, order_id, body.channel)
        if claim.status is None:
            asked = time.perf_counter()
            approved = await gateway.charge(body.channel, order_id)
            provider_ms = (time.perf_counter() - asked) * 1000
            status = await _db(store, store.finish_payment, key, order_id, approved)
            if status is PaymentState.REFUNDED:
                gateway.refund(order_id)  # the reservation lapsed as the gateway answered
            break
        status = await _settled(store, claim.key, claim.status, deadline)
        if claim.key == key:  # a retry of this very payment: its answer again
            break
        if status is PaymentState.PAID:
            raise StoreError("already_paid", 409, "another payment of this order went through")
        # The payment this one waited for failed: this one may now try.
    answer = _payment_answer(status, key)
    answer.headers["Server-Timing"] = f"gateway;dur={provider_ms:.1f}"
    return answer


@shop.get("/orders/{order_id}")
async def order(order_id: str, shopper: ShopperId, service: ServiceOf) -> dict[str, Any]:
    return await _db(service.store, _owned, service.store, order_id, shopper)


@shop.post("/support/tickets", status_code=201)
async def ticket(body: TicketIn, service: ServiceOf,
                 shopper: Annotated[str, Header(alias="X-Shopper-Id", max_length=64)] = "anon"
                 ) -> dict[str, Any]:
    store = service.store
    return {"ticket_id": await _db(store, store.add_ticket, shopper, body.topic)}


@shop.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@shop.get("/metrics", response_class=PlainTextResponse)
async def metrics(service: ServiceOf) -> str:
    store = service.store
    return service.metrics.exposition(await _db(store, store.stock),
                                      await _db(store, store.orders_by_status),
                                      store.connections)


@admin.post("/reset")
async def reset(service: ServiceOf) -> dict[str, Any]:
    store = service.store
    await _db(store, store.seed, service.seeds, service.shards, service.ttl)
    return {"status": "reset", "stock": await _db(store, store.stock)}


@admin.get("/stock")
async def stock(service: ServiceOf) -> dict[str, Any]:
    store = service.store
    await _db(store, store.expire)
    return await _db(store, store.stock)


@admin.post("/outages")
async def outages(body: OutagesIn, service: ServiceOf) -> dict[str, Any]:
    gateway = service.gateway
    unknown = [c for c in body.failure_rates if not gateway.knows(c)]
    if unknown:
        raise StoreError("unknown_channel", 422, f"no payment channel {unknown[0]!r}")
    gateway.overrides = dict(body.failure_rates)
    return {"failure_rates": gateway.overrides}


async def _settled(store: Store, key: str, status: PaymentState, deadline: float
                   ) -> PaymentState:
    """The outcome of payment ``key``, once it has one (waiting until ``deadline``)."""
    while status is PaymentState.PENDING:
        if time.monotonic() > deadline:
            raise Busy("a payment with this Idempotency-Key is still in progress")
        await asyncio.sleep(0.02)
        status = await _db(store, store.payment_status, key)
    return status


def _payment_answer(status: PaymentState, key: str) -> JSONResponse:
    if status is PaymentState.PAID:
        return JSONResponse({"status": "paid", "payment_id": key}, 200)
    if status is PaymentState.DECLINED:
        return JSONResponse({"status": "failed", "payment_id": key, "error": "declined"}, 402)
    return JSONResponse({"status": "failed", "payment_id": key,
                         "error": "reservation_expired"}, 409)


async def _sweep(service: Service) -> None:
    """Return lapsed reservations to stock, in the background, every ``sweep_every``."""
    while True:
        await asyncio.sleep(service.sweep_every)
        with contextlib.suppress(StoreError):
            await _db(service.store, service.store.expire)


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes (413) and time every request.

    The body is read here, before the app sees it (so at most ``limit`` bytes are held): a
    chunked body that grows past the limit is a 413 as a sized one is, not a failure inside
    the app's body parsing.
    """

    def __init__(self, app: Callable, limit: int, metrics: Metrics):
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            body = None
        else:
            try:
                body = await _read_body(receive, self.limit)
            except _ClientLeft:
                return
        if body is None:
            await _too_large(send, self.limit)
            self.metrics.observe(scope, 413, time.perf_counter() - started)
            return
        status = [500]
        replayed = [False]

        async def replay() -> dict:
            if not replayed[0]:
                replayed[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        async def recording_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, replay, recording_send)
        self.metrics.observe(scope, status[0], time.perf_counter() - started)


class _ClientLeft(Exception):
    """The client disconnected before its request's body arrived: nobody to answer."""


async def _read_body(receive: Callable, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientLeft
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _too_large(send: Callable, limit: int) -> None:
    body = f'{{"error": "payload_too_large", "detail": "at most {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
