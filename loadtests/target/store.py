"""The checkout's database: stock, carts, orders, payments and tickets, behind one interface.

SQLite (WAL mode, the default) and PostgreSQL run the same SQL through :class:`Store`; only
connecting, placeholders and transaction start differ (:class:`Dialect`). Every stock change is
a conditional ``UPDATE ... WHERE available >= qty`` inside a transaction, so no interleaving of
requests, processes or crashes can oversell or lose a paid order:

    initial = available + reserved + sold        (per SKU, at every commit)

Reservations carry an expiry; :meth:`Store.expire` returns lapsed ones to stock, and nothing
sells a lapsed reservation, swept or not. An order has at most one payment in flight or paid
(a unique index, so no two requests can both charge it), and an ``Idempotency-Key`` belongs to
one payment: the same order and channel replay its answer, anything else is refused.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sim.behaviour.stock import conserved, shard_split


def new_id() -> str:
    """A row's key that sorts by creation, to the millisecond: UUID version 7's layout (RFC
    9562: 48 bits of Unix milliseconds, then 74 random bits), as 32 hex digits like
    ``uuid4().hex``.

    A random key (uuid4) lands anywhere in its table's B-tree, so each insert dirties a page
    of its own and a write gets dearer as the table grows: through this store on SQLite, a
    cart and its order cost 104 µs for the first 10,000 shoppers and 138 µs at 120,000 with
    uuid4 keys, 88-97 µs throughout with these (``benchmarks/row_keys.py``). The target's
    checkout and pay then cost 9-11% more in a calibration run minutes after another (README,
    calibration runs 15-16; within 5% with these keys, run 17): a drift of the target, not of
    the method."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC's variant
    return f"{value:032x}"


class OrderState(StrEnum):
    """Where an order is (``orders.status``); it leaves ``reserved`` once, under a condition on
    it, so a paid order is never expired nor an expired one paid."""

    RESERVED = "reserved"
    """Its units are held until it is paid or ``expires`` passes."""
    PAID = "paid"
    """Its units are sold."""
    EXPIRED = "expired"
    """Lapsed unpaid: its units went back on sale and to the shopper's limit."""


class PaymentState(StrEnum):
    """Where a payment is (``payments.status``); an order has at most one pending or paid."""

    PENDING = "pending"
    """The gateway was asked and has not answered (a crash leaves it declined: recover)."""
    PAID = "paid"
    DECLINED = "declined"
    REFUNDED = "refunded"
    """Approved after the reservation lapsed: the charge is returned, the order not paid."""


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS skus (sku TEXT PRIMARY KEY, price DOUBLE PRECISION NOT NULL,
    initial INTEGER NOT NULL, per_user_limit INTEGER);
CREATE TABLE IF NOT EXISTS stock (sku TEXT NOT NULL, shard INTEGER NOT NULL,
    available INTEGER NOT NULL CHECK (available >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    sold INTEGER NOT NULL CHECK (sold >= 0), PRIMARY KEY (sku, shard));
CREATE TABLE IF NOT EXISTS carts (id TEXT PRIMARY KEY, shopper TEXT NOT NULL, sku TEXT NOT NULL,
    qty INTEGER NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, shopper TEXT NOT NULL,
    status TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL,
    created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS orders_reserved ON orders (status, expires);
CREATE TABLE IF NOT EXISTS order_items (order_id TEXT NOT NULL, sku TEXT NOT NULL,
    shard INTEGER NOT NULL, qty INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS order_items_order ON order_items (order_id);
CREATE TABLE IF NOT EXISTS limits (shopper TEXT NOT NULL, sku TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty >= 0), PRIMARY KEY (shopper, sku));
CREATE TABLE IF NOT EXISTS payments (idem_key TEXT PRIMARY KEY, order_id TEXT NOT NULL,
    channel TEXT NOT NULL, status TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS payments_one_live ON payments (order_id)
    WHERE status IN ('{PaymentState.PENDING}', '{PaymentState.PAID}');
CREATE INDEX IF NOT EXISTS payments_order ON payments (order_id);
CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, shopper TEXT NOT NULL,
    topic TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
"""Every lookup a shopper's request makes is by an index: ``payments_order`` serves "the
order's payment in flight" (``order_id = ? AND status = ?``), which the partial unique index
cannot (the planner cannot tell that the bound status is one of its two): without it every new
payment read the whole payments table, and pay grew dearer with every order paid (two
calibrations minutes apart found it 7-30% dearer the second time)."""

TABLES = ("skus", "stock", "carts", "orders", "order_items", "limits", "payments", "tickets",
          "settings")


class StoreError(Exception):
    """A request the store refuses; ``code`` is the API's error word, ``status`` its HTTP code."""

    def __init__(self, code: str, status: int, detail: str = ""):
        super().__init__(detail or code)
        self.code, self.status, self.detail = code, status, detail or code


class Busy(StoreError):
    """The database could not take the write in time (a 503 with Retry-After)."""

    def __init__(self, detail: str):
        super().__init__("busy", 503, detail)


@dataclass(frozen=True)
class Claim:
    """What a payment request may do: charge the gateway, or answer with another's outcome."""

    key: str
    """The payment whose outcome answers the request (another key's while that one runs)."""
    status: PaymentState | None
    """None: the request holds the claim and charges; else that payment's status so far."""


@dataclass(frozen=True)
class SkuSeed:
    sku: str
    stock: int
    price: float
    per_user_limit: int | None


class Dialect(ABC):
    """How to reach one kind of database; the SQL itself is shared."""

    placeholder = "?"
    busy_errors: tuple[type[BaseException], ...] = ()
    conflict_errors: tuple[type[BaseException], ...] = ()
    on_loop = False
    """Calls are quick enough to make on the server's event loop (a file on this machine):
    no thread is needed to wait for the database (app.py ``_db``)."""

    @abstractmethod
    def connect(self) -> Any:
        """A new connection in autocommit mode (transactions are begun explicitly)."""

    def begin(self, connection: Any) -> None:
        connection.execute("BEGIN")


class SQLite(Dialect):
    """SQLite in WAL mode: readers never wait for the writer; writers queue up to 10 s."""

    busy_errors = (sqlite3.OperationalError,)
    conflict_errors = (sqlite3.IntegrityError,)
    on_loop = True

    def __init__(self, path: Path):
        self.path = path

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Each connection serves one thread; another only closes it (Store.close_all).
        connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                     check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
        connection.execute("PRAGMA busy_timeout=10000")
        return connection

    def begin(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-transaction


class Postgres(Dialect):
    placeholder = "%s"

    def __init__(self, url: str):
        import psycopg  # imported here: PostgreSQL is optional

        self.url = url
        self._psycopg = psycopg
        self.busy_errors = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled,
                            psycopg.errors.DeadlockDetected,
                            psycopg.errors.SerializationFailure)
        self.conflict_errors = (psycopg.errors.UniqueViolation,)

    def connect(self) -> Any:
        connection = self._psycopg.connect(self.url, autocommit=True)
        connection.execute("SET lock_timeout = '10s'")
        return connection


def dialect_for(url: str) -> Dialect:
    """``sqlite:///path/to.db`` (or a bare path) or ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        return Postgres(url)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SQLite(Path(path))


class Store:
    """The checkout's data; one connection per thread, shared SQL for every dialect."""

    def __init__(self, dialect: Dialect, clock: Callable[[], float] = time.time):
        self.dialect = dialect
        self.clock = clock
        """Seconds since the epoch: reservations and their expiry are judged by it."""
        self._local = threading.local()
        self._opened: list[Any] = []
        """Every thread's connection, for :meth:`close_all`."""
        self._opened_lock = threading.Lock()

    @property
    def connections(self) -> int:
        """Connections open: one per thread that has called the database."""
        with self._opened_lock:
            return len(self._opened)

    # -- plumbing ----------------------------------------------------------------------------
    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = self._local.connection = self.dialect.connect()
            except Exception as exc:  # the database refused a connection: 503, not a reset
                raise Busy(f"cannot connect to the database: {exc}") from None
            with self._opened_lock:
                self._opened.append(connection)
        return connection

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.dialect.placeholder)

    def _run(self, statement: str, *args: Any) -> Any:
        return self._connection().execute(self._sql(statement), args)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        connection = self._connection()
        try:
            self.dialect.begin(connection)
        except self.dialect.busy_errors as exc:
            raise Busy(f"database busy: {exc}") from None
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        try:
            connection.execute("COMMIT")
        except self.dialect.busy_errors as exc:
            connection.execute("ROLLBACK")
            raise Busy(f"database busy: {exc}") from None

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
            with self._opened_lock:
                self._opened.remove(connection)

    def close_all(self) -> None:
        """Close every thread's connection: once the server has stopped (in-process use)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local = threading.local()

    # -- setting up --------------------------------------------------------------------------
    def create(self) -> None:
        connection = self._connection()
        for statement in filter(str.strip, SCHEMA.split(";")):
            connection.execute(statement)

    def seed(self, skus: list[SkuSeed], shards: int, ttl: float) -> None:
        """Empty every table and load the catalog: one stock row per shard of each SKU."""
        self.create()
        with self.transaction():
            for table in TABLES:
                self._run(f"DELETE FROM {table}")
            for item in skus:
                self._run("INSERT INTO skus VALUES (?, ?, ?, ?)", item.sku, item.price,
                          item.stock, item.per_user_limit)
                for shard, share in enumerate(shard_split(item.stock, shards)):
                    self._run("INSERT INTO stock VALUES (?, ?, ?, 0, 0)", item.sku, shard, share)
            self._run("INSERT INTO settings VALUES ('reservation_ttl', ?)", str(ttl))

    def recover(self) -> int:
        """After a crash: charges that never got an answer from the gateway did not happen."""
        return self._run("UPDATE payments SET status = ? WHERE status = ?",
                         PaymentState.DECLINED, PaymentState.PENDING).rowcount

    def setting(self, key: str) -> str:
        row = self._run("SELECT value FROM settings WHERE key = ?", key).fetchone()
        return row[0]

    # -- reads ---------------------------------------------------------------------------------
    def product(self, sku: str) -> dict[str, Any]:
        row = self._run("SELECT s.price, s.per_user_limit, SUM(k.available) FROM skus s "
                        "JOIN stock k ON k.sku = s.sku WHERE s.sku = ? "
                        "GROUP BY s.price, s.per_user_limit", sku).fetchone()
        if row is None:
            raise StoreError("unknown_sku", 404, f"no SKU {sku!r}")
        return {"sku": sku, "price": row[0], "per_user_limit": row[1], "available": int(row[2])}

    def stock(self) -> dict[str, dict[str, int]]:
        rows = self._run("SELECT s.sku, s.initial, SUM(k.available), SUM(k.reserved), "
                         "SUM(k.sold) FROM skus s JOIN stock k ON k.sku = s.sku "
                         "GROUP BY s.sku, s.initial ORDER BY s.sku").fetchall()
        return {sku: {"initial": int(i), "available": int(a), "reserved": int(r), "sold": int(s)}
                for sku, i, a, r, s in rows}

    def orders_by_status(self) -> dict[str, int]:
        return dict(self._run("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall())

    def order(self, order_id: str) -> dict[str, Any] | None:
        row = self._run("SELECT shopper, status, amount, expires FROM orders WHERE id = ?",
                        order_id).fetchone()
        if row is None:
            return None
        return {"order_id": order_id, "shopper": row[0], "status": row[1], "amount": row[2],
                "expires_at": row[3]}

    def paid_charges(self, order_id: str) -> int:
        return self._run("SELECT COUNT(*) FROM payments WHERE order_id = ? AND status = ?",
                         order_id, PaymentState.PAID).fetchone()[0]

    # -- writes --------------------------------------------------------------------------------
    def add_cart(self, shopper: str, sku: str, qty: int) -> str:
        self.product(sku)
        cart_id = new_id()
        self._run("INSERT INTO carts VALUES (?, ?, ?, ?, ?)", cart_id, shopper, sku, qty,
                  self.clock())
        return cart_id

    def cart_items(self, shopper: str, cart_id: str) -> list[tuple[str, int]]:
        row = self._run("SELECT sku, qty FROM carts WHERE id = ? AND shopper = ?", cart_id,
                        shopper).fetchone()
        if row is None:
            raise StoreError("unknown_cart", 404, f"no cart {cart_id!r} for this shopper")
        return [(row[0], row[1])]

    def reserve(self, shopper: str, items: list[tuple[str, int]]) -> dict[str, Any]:
        """Reserve every item or none; ``sold_out`` / ``limit_exceeded`` as 409."""
        order_id = new_id()
        now = self.clock()
        expires = now + float(self.setting("reservation_ttl"))
        amount = 0.0
        with self.transaction():
            for sku, qty in items:
                product = self._run("SELECT price, per_user_limit FROM skus WHERE sku = ?",
                                    sku).fetchone()
                if product is None:
                    raise StoreError("unknown_sku", 404, f"no SKU {sku!r}")
                price, limit = product
                if limit is not None:
                    held = self._run("INSERT INTO limits VALUES (?, ?, ?) ON CONFLICT "
                                     "(shopper, sku) DO UPDATE SET qty = limits.qty + "
                                     "excluded.qty RETURNING qty", shopper, sku, qty).fetchone()
                    if held[0] > limit:
                        raise StoreError("limit_exceeded", 409,
                                         f"{sku}: at most {limit} per shopper")
                shard = self._take(sku, qty)
                self._run("INSERT INTO order_items VALUES (?, ?, ?, ?)", order_id, sku, shard,
                          qty)
                amount += price * qty
            self._run("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", order_id, shopper,
                      OrderState.RESERVED, amount, now, expires)
        return {"order_id": order_id, "status": OrderState.RESERVED.value, "amount": amount,
                "expires_at": expires}

    def _take(self, sku: str, qty: int) -> int:
        """Decrement one shard that has the units: start at a random one, move on if empty."""
        shards = [row[0] for row in self._run(
            "SELECT shard FROM stock WHERE sku = ? ORDER BY shard", sku).fetchall()]
        start = random.randrange(len(shards))
        for shard in shards[start:] + shards[:start]:
            taken = self._run("UPDATE stock SET available = available - ?, reserved = "
                              "reserved + ? WHERE sku = ? AND shard = ? AND available >= ?",
                              qty, qty, sku, shard, qty)
            if taken.rowcount == 1:
                return shard
        raise StoreError("sold_out", 409, f"{sku} is sold out")

    def claim_payment(self, key: str, order_id: str, channel: str) -> Claim:
        """Claim the right to charge ``order_id`` under ``key``, in one transaction.

        A key seen before replays its payment if the order and channel are the same, and is
        refused (422) if not: a key names one payment. An order already paid is refused
        (``already_paid``), a lapsed reservation too (``reservation_expired``, whether or
        not the sweeper has run); while another key's payment of the order is in flight the
        claim names that one, for the caller to wait on.
        """
        try:
            with self.transaction():
                seen = self._run("SELECT order_id, channel, status FROM payments WHERE "
                                 "idem_key = ?", key).fetchone()
                if seen is not None:
                    if (seen[0], seen[1]) != (order_id, channel):
                        raise StoreError(
                            "idempotency_key_reused", 422,
                            f"this Idempotency-Key was first used to pay order {seen[0]!r} "
                            f"with {seen[1]!r}: a key names one payment, use a new one")
                    return Claim(key, PaymentState(seen[2]))
                order = self._run("SELECT status, expires FROM orders WHERE id = ?",
                                  order_id).fetchone()
                if order is None:
                    raise StoreError("unknown_order", 404, f"no order {order_id!r}")
                state = OrderState(order[0])
                if state is OrderState.PAID:
                    raise StoreError("already_paid", 409, "this order is paid")
                if state is not OrderState.RESERVED or order[1] < self.clock():
                    raise StoreError("reservation_expired", 409,
                                     "the reservation lapsed: stock went back on sale")
                live = self._run("SELECT idem_key FROM payments WHERE order_id = ? AND "
                                 "status = ?", order_id, PaymentState.PENDING).fetchone()
                if live is not None:
                    return Claim(live[0], PaymentState.PENDING)
                self._run("INSERT INTO payments VALUES (?, ?, ?, ?, ?)", key, order_id,
                          channel, PaymentState.PENDING, self.clock())
                return Claim(key, None)
        except self.dialect.conflict_errors:  # a concurrent claim won the race: look again
            return self.claim_payment(key, order_id, channel)

    def payment_status(self, key: str) -> PaymentState:
        return PaymentState(self._run("SELECT status FROM payments WHERE idem_key = ?",
                                      key).fetchone()[0])

    def finish_payment(self, key: str, order_id: str, approved: bool) -> PaymentState:
        """Record the gateway's answer: an approved charge sells the reservation if it has not
        lapsed meanwhile; otherwise the charge is to be refunded (``refunded``)."""
        with self.transaction():
            if not approved:
                status = PaymentState.DECLINED
            else:
                paid = self._run("UPDATE orders SET status = ? WHERE id = ? AND status = ? AND "
                                 "expires >= ?", OrderState.PAID, order_id, OrderState.RESERVED,
                                 self.clock())
                if paid.rowcount == 1:
                    for sku, shard, qty in self._items(order_id):
                        self._run("UPDATE stock SET reserved = reserved - ?, sold = sold + ? "
                                  "WHERE sku = ? AND shard = ?", qty, qty, sku, shard)
                    status = PaymentState.PAID
                else:
                    status = PaymentState.REFUNDED
            self._run("UPDATE payments SET status = ? WHERE idem_key = ?", status, key)
        return status

    def _items(self, order_id: str) -> list[tuple[str, int, int]]:
        return self._run("SELECT sku, shard, qty FROM order_items WHERE order_id = ?",
                         order_id).fetchall()

    def expire(self, now: float | None = None) -> int:
        """Return lapsed reservations to stock (and to the shoppers' limits)."""
        now = self.clock() if now is None else now
        due = [row[0] for row in self._run(
            "SELECT id FROM orders WHERE status = ? AND expires < ? LIMIT 500",
            OrderState.RESERVED, now).fetchall()]
        released = 0
        for order_id in due:
            with self.transaction():
                row = self._run("UPDATE orders SET status = ? WHERE id = ? AND status = ? "
                                "RETURNING shopper", OrderState.EXPIRED, order_id,
                                OrderState.RESERVED).fetchone()
                if row is None:
                    continue
                for sku, shard, qty in self._items(order_id):
                    self._run("UPDATE stock SET available = available + ?, reserved = "
                              "reserved - ? WHERE sku = ? AND shard = ?", qty, qty, sku, shard)
                    self._run("UPDATE limits SET qty = qty - ? WHERE shopper = ? AND sku = ?",
                              qty, row[0], sku)
                released += 1
        return released

    def add_ticket(self, shopper: str, topic: str) -> str:
        ticket_id = new_id()
        self._run("INSERT INTO tickets VALUES (?, ?, ?, ?)", ticket_id, shopper, topic,
                  self.clock())
        return ticket_id

    def check(self) -> list[str]:
        """Problems with the invariants (empty when all hold); used by tests and /admin/stock."""
        problems = []
        for sku, figures in self.stock().items():
            if not conserved(figures["initial"], figures["available"], figures["reserved"],
                             figures["sold"]):
                problems.append(f"{sku}: initial != available + reserved + sold ({figures})")
        # Keyed by OrderState, not the column's strings: an Enum member hashes by its name.
        by_status = {OrderState(status): units for status, units in self._run(
            "SELECT o.status, COALESCE(SUM(i.qty), 0) FROM orders o JOIN order_items i ON "
            "i.order_id = o.id GROUP BY o.status").fetchall()}
        totals = self.stock().values()
        if by_status.get(OrderState.PAID, 0) != sum(f["sold"] for f in totals):
            problems.append("units sold != units in paid orders")
        if by_status.get(OrderState.RESERVED, 0) != sum(f["reserved"] for f in totals):
            problems.append("units reserved != units in reserved orders")
        return problems
