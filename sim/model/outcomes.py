"""What one replication's parts report at its end, as typed records.

The summary (``sim.results.summary``, ``.sections``) reads these by attribute: a cause, a stage or a
figure spelled wrong fails the type checker or the constructor where it is made, not as a
``KeyError`` (or a silently missing column) in a report hours later. They are plain frozen
data, so an :class:`~sim.model.observer.Observation` stays picklable across processes and
Dask workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..behaviour.stock import oversold
from ..metrics import Histogram
from .inventory import Stock
from .payments import ChannelStats
from .support import ContactStream


@dataclass(frozen=True)
class Lost:
    """Sales lost to one cause: how many and what they were worth."""

    count: int
    value: float


@dataclass(frozen=True)
class Losses:
    """Sales lost, by cause, and sessions that gave up after platform errors, by the stage
    they had reached (``customers.LOST_CAUSES`` and ``customers.STAGES``, every one present).

    Made by ``Tally.losses``. The totals are taken when the tally is read, not summed again
    from ``by_cause``: the
    warm-up subtraction (:meth:`since`) then works on exactly the numbers that were added up,
    so the measured part of the day is the same to the last bit however it is regrouped.
    """

    count: int
    value: float
    by_cause: Mapping[str, Lost]
    gave_up: Mapping[str, int]
    """Sessions that gave up after platform errors, by stage (browse, cart, checkout, pay)."""

    def since(self, earlier: Losses) -> Losses:
        """The losses after ``earlier`` (the tally at the end of the warm-up)."""
        return Losses(
            count=self.count - earlier.count,
            value=self.value - earlier.value,
            by_cause={cause: Lost(lost.count - earlier.by_cause[cause].count,
                                  lost.value - earlier.by_cause[cause].value)
                      for cause, lost in self.by_cause.items()},
            gave_up={stage: n - earlier.gave_up[stage] for stage, n in self.gave_up.items()},
        )


@dataclass(frozen=True)
class StockFigures:
    """One SKU's stock at the end of the day, and how shoppers met it.

    Whole-day figures (the shelf is not reset by the warm-up): ``initial = available +
    reserved + sold`` holds, and ``oversold`` is the behaviour layer's rule, as in the drill.
    """

    initial: int
    available: int
    reserved: int
    sold: int
    oversold: int
    sold_out_at: float | None
    """Simulated seconds at which nothing was left to reserve, if that happened."""
    sold_out_misses: int
    limit_misses: int
    sold_to_bots: int
    lock_wait: Histogram
    """Waits for the SKU's row lock (seconds): what a hot row costs each checkout."""

    @classmethod
    def of(cls, stock: Stock) -> StockFigures:
        return cls(
            initial=stock.initial,
            available=stock.available,
            reserved=stock.reserved,
            sold=stock.sold,
            oversold=oversold(stock.initial, stock.reserved, stock.sold),
            sold_out_at=stock.sold_out_at,
            sold_out_misses=stock.sold_out_misses,
            limit_misses=stock.limit_misses,
            sold_to_bots=stock.sold_to_bots,
            lock_wait=stock.lock_wait_hist,
        )


@dataclass(frozen=True)
class FlashSaleFigures:
    """One flash sale's buyers and how their attempts ended (``misses`` = ``sold_out`` +
    ``closed`` + ``limit_exceeded``); the stock it sold is its SKU's :class:`StockFigures`."""

    name: str
    sku: str
    buyers: int
    bots: int
    served: int
    misses: int
    sold_out: int
    closed: int
    limit_exceeded: int

    @classmethod
    def of(cls, name: str, sku: str, stats: Mapping[str, int]) -> FlashSaleFigures:
        """From the shoppers' running counts of the sale (``Shoppers.sale_stats``)."""
        return cls(name, sku, buyers=stats["buyers"], bots=stats["bots"],
                   served=stats["served"], misses=stats["misses"], sold_out=stats["sold_out"],
                   closed=stats["closed"], limit_exceeded=stats["limit_exceeded"])


@dataclass(frozen=True)
class CouponFigures:
    """How often one coupon was used, and the discount it gave in all (money)."""

    uses: int
    discount: float


SupportIntervals = dict[str, list[float]]
"""The contact centre's figures per staffing interval, by name (``support.FIGURES``): summed
over intervals into service level, ASA and the rest by ``sections.support_rates``. Kept as the
centre writes them, as agent sizing's replays (``support.replay``) return the same shape and
are compared with them to the last bit."""


@dataclass(frozen=True)
class SupportResults:
    """What the support part of one day measured."""

    by_source: Mapping[str, int]
    """Contacts by what made the customer call (baseline, order, payment failure, ...)."""
    intervals: SupportIntervals
    agents_schedule: Sequence[int]
    """Agents the scenario puts on shift at the start of each staffing interval."""
    stream: ContactStream | None
    """The recorded contacts, when asked for (``record_contacts``): agent sizing replays them
    against other staffings."""


@dataclass(frozen=True)
class Parts:
    """What the promotion-day parts report, beside the servers' latencies and counters."""

    inventory: Mapping[str, StockFigures]
    """By SKU id, in the catalog's order."""
    flash_sales: Sequence[FlashSaleFigures]
    """In the scenario's order (none without promotions)."""
    coupons: Mapping[str, CouponFigures]
    """By coupon name, in the scenario's order."""
    payments: Mapping[str, ChannelStats] | None
    """By channel name; ``None`` when the scenario has no payments section."""
    support: SupportResults | None
    """``None`` when the scenario has no support section."""
