"""The scenario: one validated object that the simulator and the load drills both read.

Key names follow ``reference-scenario.yaml``. Times are seconds, clock times are seconds since
midnight, fractions are plain floats: units are resolved here, once. Sections a scenario may
leave out (``promotions``, ``payments``, ``support``, ``slo``) are ``None`` and switch that part
of the model off; ``inventory``, ``sizing`` and ``drill`` fall back to defaults. Checks that
relate several fields live in :mod:`sim.scenario.checks`, so each can name the exact field.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .distributions import Constant, Kind
from .history import history_source
from .schedule import PositiveSchedule
from .types import (
    ClockTime,
    Count,
    CountDist,
    Duration,
    Fraction,
    Money,
    MoneyDist,
    PositiveDuration,
    PositiveInt,
    Rate,
    RatePoints,
    TimeDist,
)
from .units import DAY

Endpoint = Literal["home", "product", "cart", "checkout", "pay", "support"]
"""The platform's endpoints, one per journey step (plus support tickets)."""
ENDPOINTS: tuple[Endpoint, ...] = ("home", "product", "cart", "checkout", "pay", "support")


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Clock(Section):
    start: datetime = datetime.fromisoformat("2026-11-11T00:00:00+08:00")
    """Simulated wall clock at time 0; clock times of day are read in its time zone."""
    duration: PositiveDuration = 86_400.0
    """Longer than a day repeats the daily curve, phases and schedules every day."""
    warmup: Duration = 0.0
    """Statistics ignore this first stretch (the model starts empty); for steady-state runs."""

    @property
    def start_time_of_day(self) -> float:
        """Seconds since local midnight at which the simulation starts."""
        return self.start.hour * 3600.0 + self.start.minute * 60.0 + self.start.second

    def local(self, offset: float) -> datetime:
        """The simulated wall-clock time ``offset`` seconds after the start."""
        return self.start + timedelta(seconds=offset)

    def label(self, offset: float, seconds: bool = False) -> str:
        """``HH:MM`` (or ``HH:MM:SS``) for people; multi-day runs prefix the day (``d2``)."""
        moment = self.local(offset)
        text = moment.strftime("%H:%M:%S" if seconds else "%H:%M")
        if self.duration <= DAY:
            return text
        return f"d{(moment.date() - self.start.date()).days + 1} {text}"

    def window(self, start: float, end: float) -> tuple[float, float]:
        """A daily window of clock times as (opens, closes) in seconds after the start.

        ``closes`` may pass 24h when the window wraps midnight; use :meth:`inside` to test.
        """
        opens = self.offset(start) % DAY
        return opens, opens + ((end - start) % DAY or DAY)

    @staticmethod
    def inside(t: float, window: tuple[float, float]) -> bool:
        """Whether simulated time ``t`` falls in a daily ``window`` (it repeats every day)."""
        into = t % DAY
        opens, closes = window
        return opens <= into < closes or opens <= into + DAY < closes

    def offset(self, time_of_day: float) -> float:
        """Seconds after the start of the first occurrence of a clock time (``24:00`` = end)."""
        since = time_of_day - self.start_time_of_day
        return since if since >= 0 else since + DAY


class History(Section):
    csv: str
    """The CSV file the points were read from (relative to the scenario)."""
    growth: float = Field(default=1.0, gt=0)
    """Factor applied to the file's rates (1.25 = a quarter more sessions than last year)."""


class Traffic(Section):
    sessions_per_min: RatePoints = Field(min_length=1)
    """New sessions per minute at clock times; linear between points, flat outside them.
    May be read from a CSV of last year's day, with a growth factor (:mod:`.history`)."""
    history: History | None = None
    """Where CSV points came from; set when ``sessions_per_min`` names a file (a whole day's
    history may have points outside a shorter run's clock)."""
    phases: dict[str, tuple[ClockTime, ClockTime]] = {}
    """Named windows [from, to) used by reports and per-phase figures."""

    @model_validator(mode="before")
    @classmethod
    def _remember_history(cls, data: object) -> object:
        """Record the CSV (and growth) that ``sessions_per_min`` names before it is read."""
        if isinstance(data, dict):
            source = history_source(data.get("sessions_per_min"))
            if source is not None:
                return {**data, "history": source}
        return data


class Retry(Section):
    max_attempts: PositiveInt = 1
    """Attempts in all, the first included: 1 means no retry."""
    backoff: Duration = 0.0
    """Wait before each retry."""


class Funnel(Section):
    """Conditional step probabilities: P(cart | viewed), P(checkout | cart), P(pay | checkout)."""

    cart: Fraction = 0.0
    """P(cart | viewed): share of sessions that put a product in the cart."""
    checkout: Fraction = 0.0
    """P(checkout | cart): share of carts that go to checkout."""
    pay: Fraction = 0.0
    """P(pay | checkout): share of checkouts that pay."""


class Segment(Section):
    share: Fraction
    """Share of sessions in this segment; the segments' shares sum to 1."""
    product_views: CountDist = Constant(0.0, Kind.COUNT)
    """Product pages a session views before deciding on the cart (a count distribution)."""
    funnel: Funnel = Funnel()
    """Conditional step probabilities of this segment's journey."""
    basket_value: MoneyDist | None = None
    """Currency value of an order; absent means the price of the SKU bought."""


class Customers(Section):
    think_time: TimeDist = Constant(0.0)
    """Pause between two steps of a session."""
    client_timeout: PositiveDuration | None = None
    """A response slower than this is an error the shopper sees; absent waits forever."""
    retry: Retry = Retry()
    """How a shopper retries a step that failed (timeout or 503)."""
    segments: dict[str, Segment] = Field(min_length=1)
    """Kinds of shoppers, by name; shares sum to 1."""


class Sku(Section):
    id: str = Field(min_length=1)
    """SKU id, unique across the catalog and flash sales."""
    stock: Count
    """Units on hand at the start."""
    price: Money = 0.0
    """Price of one unit (the order's value without basket_value)."""
    popularity: float = Field(default=1.0, ge=0)
    """Relative weight of this SKU when a shopper picks a product to view."""


class Catalog(Section):
    skus: list[Sku] = Field(min_length=1)
    """The products shoppers view and buy."""
    per_user_limit: PositiveInt | None = None
    """Units one shopper may buy of a SKU; absent is unlimited."""


class FlashSku(Section):
    id: str = Field(min_length=1)
    """The deal's own SKU id (new, not a catalog SKU)."""
    stock: Count
    """Units for the deal."""
    price: Money = 0.0
    """Deal price of one unit."""


class FlashSale(Section):
    name: str
    """Shown in the report (Chinese names are drawn with Noto Sans CJK)."""
    sku: FlashSku
    """The deal's SKU, stock and price."""
    start: ClockTime
    """Clock time the sale opens; its audience arrives from then on."""
    end: ClockTime
    """Clock time the sale closes; checkouts after it find it closed."""
    per_user_limit: PositiveInt | None = 1
    """Units one shopper (or one bot identity) may buy."""
    audience: Count = 0
    """Extra sessions that come for this deal, arriving after ``start``."""
    arrival_spread: TimeDist = Constant(0.0)
    """Delay after start at which each audience session arrives."""
    bot_share: Fraction = 0.0
    """Share of the audience that are scalper bots (no think time, fast retries)."""
    bot_max_attempts: PositiveInt = 10
    """Attempts a scalper bot makes at a failing step, retrying at once (no backoff)."""
    bot_sessions_per_identity: PositiveInt = 3
    """Bot sessions sharing one shopper identity: they test the per-user limit."""


class Coupon(Section):
    name: str
    """Shown in the report."""
    kind: Literal["threshold", "percent", "free_shipping"]
    """threshold (off when the order reaches threshold), percent (percent off) or free_shipping
    (off = the shipping fee absorbed)."""
    threshold: Money = 0.0
    """Order value from which the coupon applies."""
    off: Money = 0.0
    """Amount off (threshold coupons) or the shipping fee absorbed (free_shipping)."""
    percent: Fraction = 0.0
    """Share off the order value (percent coupons)."""
    take_rate: Fraction
    """Share of the orders that qualify (value >= threshold) that use the coupon."""


class Promotions(Section):
    flash_sales: list[FlashSale] = []
    """Deals with their own SKU, window and audience."""
    coupons: list[Coupon] = []
    """Discounts taken by a share of qualifying orders."""


class Inventory(Section):
    strategy: Literal["row_lock", "atomic_counter", "sharded"] = "row_lock"
    """How stock is decremented: row_lock (one lock per SKU), sharded (shards rows),
    atomic_counter (no queueing)."""
    lock_hold: Duration = 0.004
    """Time one stock change holds the SKU's lock."""
    shards: PositiveInt = 8
    """Rows per SKU for strategy sharded."""
    reservation_ttl: PositiveDuration = 900.0
    """Unpaid reservations return to stock after this."""


class Channel(Section):
    share: Fraction
    """Share of payments that start on this channel; shares sum to 1."""
    latency: TimeDist
    """The provider's answer time."""
    failure_rate: Fraction = 0.0
    """Share of attempts the provider declines."""


class Outage(Section):
    channel: str
    """The channel that fails (a name under payments.channels)."""
    from_: ClockTime = Field(alias="from")
    """Clock time the outage starts."""
    to: ClockTime
    """Clock time the outage ends."""
    failure_rate: Fraction = 1.0
    """Share of attempts that fail during the outage."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              use_attribute_docstrings=True)


class PaymentRetry(Retry):
    switch_channel_after: PositiveInt | None = None
    """Consecutive failures on one channel after which the shopper tries another."""


class Payments(Section):
    channels: dict[str, Channel] = Field(min_length=1)
    """Payment providers by name."""
    outages: list[Outage] = []
    """Windows in which a channel fails more."""
    timeout: PositiveDuration = 10.0
    """An attempt slower than this fails at the timeout."""
    retry: PaymentRetry = PaymentRetry()
    """How a shopper retries a declined payment."""


class EndpointDemand(Section):
    service: TimeDist
    """Time one request holds a worker (before lock waits or payment latency)."""


class Admission(Section):
    max_queue: Count | None = None
    """Requests waiting beyond this are shed (503); absent is unbounded."""
    queue_timeout: PositiveDuration | None = None
    """A request waiting longer than this is shed; absent waits forever."""


class Autoscaling(Section):
    enabled: bool = False
    """Scale instances on utilization (HPA-like); off keeps platform.instances."""
    min: PositiveSchedule = 1
    """Fewest instances; may follow the clock (scheduled pre-scaling, launched ``warmup``
    ahead so they serve from their clock time)."""
    max: PositiveInt = 1
    """Most instances the autoscaler runs."""
    target_utilization: Fraction = 0.65
    """Utilization the autoscaler aims at: desired = ceil(instances x utilization / target)."""
    interval: PositiveDuration = 60.0
    """How often the autoscaler decides."""
    warmup: Duration = 180.0
    """Time from launching an instance to its serving requests."""
    stabilization: Duration = 300.0
    """Scale in only to the highest recommendation of this last window (HPA's default 5m)."""


class Platform(Section):
    instances: PositiveSchedule
    """Instances serving; with autoscaling off it may follow the clock (a capacity plan:
    more instances are launched ``autoscaling.warmup`` ahead to serve from their time)."""
    workers_per_instance: PositiveInt = 1
    """Requests one instance serves at once (its worker processes or threads)."""
    endpoints: dict[Endpoint, EndpointDemand] = Field(min_length=1)
    """Service demand per endpoint a journey can reach."""
    admission: Admission = Admission()
    """Load shedding: queue length and wait limits (503 beyond them)."""
    autoscaling: Autoscaling = Autoscaling()
    """Instances added and removed on utilization."""


class Contacts(Section):
    per_order: Fraction = 0.0
    """Contacts per order (after after_order)."""
    per_payment_failure: Fraction = 0.0
    """Contacts per order lost to a failed payment."""
    per_flash_sale_miss: Fraction = 0.0
    """Contacts per flash-sale buyer who missed the deal."""
    baseline_per_hour: Rate | dict[ClockTime, Rate] = 0.0
    """Contacts per hour from no particular cause (Poisson); a number, or a step schedule on the
    clock like ``agents`` (``{"00:00": 300, "10:00": 1500}``)."""
    after_order: TimeDist = Constant(3600.0)
    """Delay between an order and the contact it causes."""


class Support(Section):
    contacts: Contacts = Contacts()
    """What makes customers contact support."""
    bot_deflection: Fraction = 0.0
    """Share of contacts the chat bot resolves without an agent."""
    handle_time: TimeDist
    """Time an agent spends on one contact."""
    patience: TimeDist | None = None
    """Waiting customers abandon after this; absent means they never abandon."""
    agents: dict[ClockTime, Count] = Field(min_length=1)
    """Agents on shift from each clock time on (a step schedule)."""


class SupportSlo(Section):
    service_level: Fraction = 0.8
    """Share of offered contacts to answer within answer_within."""
    answer_within: PositiveDuration = 20.0
    """The service level's answer time."""
    max_abandon: Fraction = 1.0
    """Most contacts that may abandon (share of offered)."""


class Slo(Section):
    latency_p99: dict[Endpoint | Literal["default"], PositiveDuration] = {}
    """p99 latency limit per endpoint (or default), judged hour by hour."""
    error_rate: Fraction = 1.0
    """Most requests that may fail (timeouts and 503s), judged hour by hour."""
    support: SupportSlo | None = None
    """Service level and abandonment, judged per staffing interval."""
    oversell: Count = 0
    """Units that may be sold beyond stock (0: none)."""


class ServerSizing(Section):
    per: PositiveDuration = 3600.0
    """Length of one sizing interval for servers."""
    min: PositiveInt = 1
    """Fewest instances the sizing search considers."""
    max: PositiveInt = 400
    """Most instances the sizing search considers."""
    cost_per_instance_hour: Money = 0.0
    """Cost of one instance for one hour."""


class ShiftBreak(Section):
    """One unpaid break in every shift longer than ``after``, starting ``after`` into it."""

    after: PositiveDuration
    """Shifts longer than this get the break, starting this long into them."""
    length: PositiveDuration
    """How long the break is."""


class Shifts(Section):
    """The shifts a roster may use; lengths, starts and the break fall on ``per`` boundaries."""

    lengths: list[PositiveDuration] = Field(min_length=1)
    """Shift lengths the roster may use (e.g. [4h, 8h])."""
    every: PositiveDuration = 1800.0
    """Shifts may start every this long from the clock's start (the start granularity)."""
    earliest_start: ClockTime | None = None
    """No shift starts before this clock time; absent: any time."""
    latest_start: ClockTime | None = None
    """No shift starts after this clock time; absent: any time."""
    max_per_start: PositiveInt | None = None
    """At most this many agents start at any one time."""
    break_: ShiftBreak | None = Field(default=None, alias="break")
    """An unpaid break inside each shift; absent: none."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AgentSizing(Section):
    per: PositiveDuration = 1800.0
    """Staffing interval (also the support reporting interval)."""
    shrinkage: Fraction = 0.0
    """Share of paid agent time not on the phones (breaks, training)."""
    cost_per_agent_hour: Money = 0.0
    """Cost of one agent for one hour."""
    shifts: Shifts | None = None
    """Turn the per-interval requirement into a roster of these shifts (cheapest cover)."""
    confirm_days: Count | None = None
    """Days with seeds of their own on which the sized agents are confirmed (default: as many
    as ``sizing.replications``; 0 skips): a half-hour of a few hundred contacts has rare bad
    days that a handful of replications may not show."""


class Sizing(Section):
    servers: ServerSizing = ServerSizing()
    """How server counts are searched and costed."""
    agents: AgentSizing = AgentSizing()
    """How agent counts are searched and costed."""
    replications: PositiveInt = 5
    """Replications per run (also simulate's default when set)."""
    confidence: Fraction = 0.95
    """Confidence level of the intervals over replications: those sizing judges on and those
    summary.json, timeseries.csv and the report show."""


class Abort(Section):
    error_rate: Fraction = 0.25
    """Stop the drill when the error rate stays above this..."""
    for_: PositiveDuration = Field(default=20.0, alias="for")
    """...for this long."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              use_attribute_docstrings=True)


DEFAULT_DRILL_ENDPOINTS: dict[Endpoint, str] = {
    "home": "GET /",
    "product": "GET /products/{sku}",
    "cart": "POST /cart",
    "checkout": "POST /orders",
    "pay": "POST /orders/{order_id}/pay",
    "support": "POST /support/tickets",
}


GENERATOR_LIMIT = 0.9
"""Share of a core past which a load-generating process limits what it measures (Locust
warns at 90%): its own greenlets wait for its CPU, and their lateness is in the latencies."""
DRILL_WINDOW = 10.0
"""Seconds per window of a drill's fidelity figures (drill.json's ``windows``): long enough for
a stable count and p95 at light load, short enough to show a few bad seconds."""


class LoadGenerator(Section):
    cpu_by_load: dict[Annotated[float, Field(gt=0)], PositiveDuration] = Field(min_length=1)
    """CPU seconds one load-generating process spends per request, by the requests per second
    it sends (log-linear between points, the nearest point's beyond them): written by
    ``peakday calibrate`` from its steps, for drills from the same machine."""

    def cpu_per_request(self, throughput: float) -> float:
        """Seconds of the process's core per request at ``throughput`` requests/s (at no
        load, the lightest point's)."""
        return factor_at(self.cpu_by_load, max(throughput, min(self.cpu_by_load)))


class Drill(Section):
    window: tuple[ClockTime, ClockTime] | None = None
    """Part of the day to replay; absent replays the whole clock."""
    compress: float = Field(default=1.0, ge=1.0)
    """Replay this many times faster than the clock."""
    scale: float = Field(default=1.0, gt=0)
    """Replay this share of the scenario's sessions."""
    allowed_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    """Hosts a drill may send load to (loopback by default); anything else is refused."""
    follow_redirects: bool = False
    """Follow 3xx answers (each hop's host checked against the allow-list before it is
    sent); by default a 3xx is the request's answer, as the drill measures what it names."""
    abort: Abort = Abort()
    """When a failing target stops the drill."""
    max_duration: PositiveDuration = 1800.0
    """Hard cap on a drill's real running time."""
    graceful_stop: Duration = 10.0
    """Real time visits may go on walking after the schedule ends (as k6's gracefulStop)."""
    max_requests: PositiveInt = 2_000_000
    """Hard cap on the requests a drill sends."""
    endpoints: dict[Endpoint, str] = dict(DEFAULT_DRILL_ENDPOINTS)
    """Journey step -> METHOD /path on the target."""
    outside_server: dict[Endpoint, TimeDist] = {}
    """Time a drill's request spends outside the target's server (client, network, waiting
    for a CPU), per endpoint: a distribution, written by ``peakday calibrate`` and added to
    every predicted latency of the drill."""
    demand_by_load: dict[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = {}
    """The target's cost per request by the load it serves: requests per second (real time)
    -> a factor on every endpoint's ``service``, written by ``peakday calibrate`` (an event
    loop's cost per request falls as it gets busier). A drill's prediction takes the factor at
    the drill's own throughput (log-linear between points, the nearest point's beyond them);
    empty, or any other command: the demands as written."""
    load_generator: LoadGenerator | None = None
    """The drill's load generator, as calibrate measured it: with it, a drill's prediction says
    how busy each of its processes will be (comparison.json's ``load generator busy``, and a
    note past 90% of a core, where the generator measures itself as well as the target)."""

    def demand_factor(self, throughput: float) -> float:
        """The factor on every endpoint's demand at ``throughput`` requests/s."""
        return factor_at(self.demand_by_load, throughput)


def factor_at(curve: dict[float, float], throughput: float) -> float:
    """``curve`` (requests/s -> factor) at ``throughput``: log-linear between its points, the
    nearest point's beyond them; 1 without a curve."""
    if not curve or throughput <= 0:
        return 1.0
    loads = sorted(curve)
    return float(np.interp(math.log(throughput), [math.log(x) for x in loads],
                           [curve[x] for x in loads]))


class Scenario(Section):
    name: str = Field(min_length=1)
    """Names the results folder and the report."""
    description: str = ""
    """One line for the report's header."""
    seed: int = Field(default=0, ge=0)
    """Seed of every random stream: the same seed gives the same bytes."""
    clock: Clock = Clock()
    """When the simulated day starts and how long it runs."""
    traffic: Traffic
    """How many sessions start, minute by minute."""
    customers: Customers
    """What shoppers do: segments, funnel, think time, retries."""
    catalog: Catalog | None = None
    """Products with stock and prices."""
    promotions: Promotions | None = None
    """Flash sales and coupons."""
    inventory: Inventory = Inventory()
    """How stock is locked and reserved."""
    payments: Payments | None = None
    """Payment channels, outages and retries; absent: payments always succeed at once."""
    platform: Platform
    """Servers, endpoints, admission and autoscaling."""
    support: Support | None = None
    """Customer service: contacts, bot, agents on shift."""
    slo: Slo | None = None
    """What the run is judged against."""
    sizing: Sizing = Sizing()
    """Sizing search settings (peakday size)."""
    drill: Drill = Drill()
    """How peakday drill replays the scenario against a real checkout."""
