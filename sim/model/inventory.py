"""Stock, reservations and the locks a flash sale fights over.

Every stock change (reserve at checkout, sell when paid, release when a reservation expires)
takes the SKU's lock for ``lock_hold``:

- ``row_lock``: one FIFO lock per SKU; tens of thousands of buyers queue on one hot row;
- ``sharded``: stock split over ``shards`` rows, each with its own lock; a buyer starts at a
  random shard and moves to the next when it is empty;
- ``atomic_counter``: the change takes ``lock_hold`` but nobody queues behind anyone.

The checkout request holds its platform worker while it waits for the lock, so a hot SKU can
exhaust the whole platform. After every change the invariant
``initial = available + reserved + sold`` (and ``available >= 0``) is checked; a breach is a
bug and stops the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import simpy

from ..behaviour.stock import conserved, shard_split
from ..metrics import Histogram
from ..scenario.schema import Inventory as InventorySpec
from .deadlines import Deadlines
from .streams import Draw
from .wakeup import Wakeable, later, wake

SOLD_OUT, OVER_LIMIT = "sold_out", "limit_exceeded"
"""Why a reservation was refused (also the lost-sale causes of those sessions)."""


class ReservationState(StrEnum):
    """Where a reservation is; each change happens under its shard's lock."""

    RESERVED = "reserved"
    """Held for its order until it is paid or the TTL passes."""
    SELLING = "selling"
    """Paid; waiting for the lock to count it sold."""
    SOLD = "sold"
    RELEASING = "releasing"
    """Expired unpaid; waiting for the lock to return it to stock."""
    RELEASED = "released"


RESERVED, SELLING, SOLD, RELEASING, RELEASED = ReservationState
"""Module names for the members: the per-checkout path reads a global, not the Enum class."""


class InvariantError(AssertionError):
    """Stock was created or lost: a bug in the model, never a property of a scenario."""


class Lock(Wakeable):
    """A FIFO lock held for a fixed time per change; waits are recorded. The lock is its own
    release event (held by one change at a time)."""

    __slots__ = ("_releasing", "_then", "busy", "env", "hold", "queue", "waits")

    def __init__(self, env: simpy.Environment, hold: float, waits: list[float]):
        self.env = env
        self.hold = hold
        self.busy = False
        self.queue: deque[tuple[float, Callable[[], None], Callable[[], None]]] = deque()
        self.waits = waits
        self._then: Callable[[], None] = _nothing
        """What the change holding the lock does once it lets go."""
        self._releasing = (self._release,)

    def run(self, change: Callable[[], None], then: Callable[[], None]) -> None:
        """Apply ``change`` when the lock is ours, hold it ``hold``, then call ``then``."""
        if self.busy:
            self.queue.append((self.env.now, change, then))
        else:
            self._take(self.env.now, change, then)

    def _take(self, asked: float, change: Callable[[], None], then: Callable[[], None]) -> None:
        self.busy = True
        self.waits.append(self.env.now - asked)
        change()
        self._then = then
        wake(self.env, self.hold, self, self._releasing)

    def _release(self, _self: Lock) -> None:
        then = self._then
        if self.queue:
            self._take(*self.queue.popleft())
        else:
            self.busy = False
        then()


class FreeCounter(Lock):
    """``atomic_counter``: every change takes ``hold`` but nobody waits for anybody."""

    __slots__ = ()

    def run(self, change: Callable[[], None], then: Callable[[], None]) -> None:
        self.waits.append(0.0)
        change()
        later(self.env, self.hold, lambda _: then())


@dataclass
class Reservation:
    """Units held for one order until it is paid or ``reservation_ttl`` passes."""

    sku: Stock
    shopper: int | None
    """A reused identity (bots), or None for a shopper who only ever buys once."""
    shard: int
    qty: int
    bot: bool
    state: ReservationState = ReservationState.RESERVED
    """reserved -> selling -> sold, or reserved -> releasing -> released"""


@dataclass
class Stock:
    """One SKU's stock, split over one or more rows (shards)."""

    sku_id: str
    initial: int
    per_user_limit: int | None
    rows: list[int]
    """Available units per row (one row unless sharded)."""
    locks: list[Lock]
    reserved: int = 0
    sold: int = 0
    sold_to_bots: int = 0
    sold_out_at: float | None = None
    """First time nothing was left to reserve (available 0)."""
    sold_out_misses: int = 0
    limit_misses: int = 0
    per_shopper: dict[int, int] = field(default_factory=dict)
    lock_waits: list[float] = field(default_factory=list)
    lock_wait_hist: Histogram = field(default_factory=Histogram)

    @property
    def available(self) -> int:
        return sum(self.rows)

    def check(self) -> None:
        available = self.available
        if min(self.rows) < 0 or not conserved(self.initial, available, self.reserved, self.sold):
            raise InvariantError(
                f"{self.sku_id}: initial {self.initial} != available {available} + reserved "
                f"{self.reserved} + sold {self.sold}")

    def flush_waits(self) -> None:
        """Bin recorded lock waits (called once a minute, keeps memory flat)."""
        if self.lock_waits:
            self.lock_wait_hist.add_values(np.asarray(self.lock_waits))
            self.lock_waits.clear()


class Inventory:
    """All SKUs (catalog and flash sales), their locks and reservations."""

    def __init__(self, env: simpy.Environment, spec: InventorySpec, uniform: Draw):
        self.env = env
        self.spec = spec
        self._uniform = uniform
        self.skus: dict[str, Stock] = {}
        self._expiring: Deadlines[Reservation] = Deadlines(env, spec.reservation_ttl,
                                                           self._expire, _unpaid)
        """Reservations in the order they were made; each returns to stock at its TTL."""

    def add(self, sku_id: str, stock: int, per_user_limit: int | None) -> Stock:
        spec = self.spec
        shards = spec.shards if spec.strategy == "sharded" else 1
        rows = shard_split(stock, shards)
        waits: list[float] = []
        lock_type = FreeCounter if spec.strategy == "atomic_counter" else Lock
        locks = [lock_type(self.env, spec.lock_hold, waits) for _ in range(shards)]
        item = Stock(sku_id, stock, per_user_limit, rows, locks, lock_waits=waits)
        if stock == 0:
            item.sold_out_at = 0.0
        self.skus[sku_id] = item
        return item

    # -- reserve (checkout: the caller holds a platform worker meanwhile) ------------------
    def reserve(self, sku: Stock, shopper: int | None, bot: bool,
                then: Callable[[Reservation | str], None]) -> None:
        """Reserve one unit; ``then`` gets the Reservation, SOLD_OUT or OVER_LIMIT.

        The limit is checked under the lock, with the change (as the service checks it inside
        its transaction): two sessions of one identity racing for the last allowed unit cannot
        both win. Only identities that come back (``shopper`` not None) are counted: a one-visit
        shopper buying one unit can never exceed a limit of at least 1, and not storing them
        keeps memory flat over millions of orders.
        """
        shards = len(sku.rows)
        first = min(int(self._uniform() * shards), shards - 1) if shards > 1 else 0
        self._try(sku, shopper, bot, first, 0, then)

    def _try(self, sku: Stock, shopper: int | None, bot: bool, shard: int, tried: int,
             then: Callable[[Reservation | str], None]) -> None:
        shards = len(sku.rows)
        # A shard known to be empty is skipped without its lock (as a cached flag would).
        while tried < shards and sku.rows[shard] == 0:
            shard, tried = (shard + 1) % shards, tried + 1
        if tried == shards:
            sku.sold_out_misses += 1
            then(SOLD_OUT)
            return
        outcome: list[Reservation | str | None] = [None]
        limit = sku.per_user_limit if shopper is not None else None

        def change() -> None:
            # limit is None unless shopper is an identity (see above); mypy cannot follow that
            if limit is not None and sku.per_shopper.get(shopper, 0) >= limit:  # type: ignore[arg-type]
                outcome[0] = OVER_LIMIT
            elif sku.rows[shard] > 0:
                sku.rows[shard] -= 1
                sku.reserved += 1
                if shopper is not None:
                    sku.per_shopper[shopper] = sku.per_shopper.get(shopper, 0) + 1
                sku.check()
                if sku.sold_out_at is None and sku.available == 0:
                    sku.sold_out_at = self.env.now
                outcome[0] = Reservation(sku, shopper, shard, 1, bot)

        def done() -> None:
            result = outcome[0]
            if isinstance(result, Reservation):
                self._expiring.add(result)
                then(result)
            elif result == OVER_LIMIT:
                sku.limit_misses += 1
                then(OVER_LIMIT)
            else:  # emptied while we waited for its lock: on to the next shard
                self._try(sku, shopper, bot, (shard + 1) % shards, tried + 1, then)

        sku.locks[shard].run(change, done)

    # -- after checkout: sell or release (no worker held) -----------------------------------
    def sell(self, reservation: Reservation, then: Callable[[bool], None]) -> None:
        """Turn a paid reservation into a sale; ``then(False)`` if it had already expired."""
        if reservation.state != RESERVED:
            then(False)
            return
        sku = reservation.sku
        reservation.state = SELLING

        def change() -> None:
            sku.reserved -= reservation.qty
            sku.sold += reservation.qty
            if reservation.bot:
                sku.sold_to_bots += reservation.qty
            reservation.state = SOLD
            sku.check()

        sku.locks[reservation.shard].run(change, lambda: then(True))

    def _expire(self, reservation: Reservation) -> None:
        sku = reservation.sku
        reservation.state = RELEASING

        def change() -> None:
            sku.reserved -= reservation.qty
            sku.rows[reservation.shard] += reservation.qty
            if reservation.shopper is not None:
                left = sku.per_shopper[reservation.shopper] - reservation.qty
                if left:
                    sku.per_shopper[reservation.shopper] = left
                else:
                    del sku.per_shopper[reservation.shopper]
            reservation.state = RELEASED
            sku.check()

        sku.locks[reservation.shard].run(change, lambda: None)

    def flush(self) -> None:
        for sku in self.skus.values():
            sku.flush_waits()


def _unpaid(reservation: Reservation) -> bool:
    return reservation.state == RESERVED


def _nothing() -> None:
    """Nothing to do."""
