"""The shape of the results files the report reads back: ``summary.json``, ``drill.json``,
``comparison.json``.

``peakday report DIR`` renders whatever a folder holds, and a folder is only as trustworthy as
the last person who edited it. Valid JSON of the wrong shape (``"slo": 5``, a drill.json
without ``thresholds``) must be a one-line error naming the file and the field, not a
traceback from deep inside a figure. So the readable parts of each document are declared
here as pydantic models (strict: a number is a number, not a string that looks like one;
keys the report does not read are ignored) and checked before anything is drawn. The models
describe the documents' shape only; the report keeps reading the plain dictionaries.

``simulate`` checks its own summary here too (the report is rendered from the same bytes), so
a change to what summary.json holds that forgets this file fails the CLI tests at once.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..results.folders import ResultsError


class Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class Band(Shape):
    """A figure over several replications: the mean and its confidence interval (at the
    summary's ``confidence``; the key's name is historical)."""

    mean: float | None
    ci95: list[float | None] = Field(min_length=2, max_length=2)


Figure = float | Band | None
"""A number for one replication, a :class:`Band` for several, null when undefined."""


class Violation(Shape):
    metric: str
    endpoint: str
    from_: str = Field(alias="from")
    to: str
    over_by: str | None = None
    short_by: str | None = None
    """For floors (service level): how far below."""
    value_ms: float | None = None
    limit_ms: float | None = None
    value: float | None = None
    limit: float | None = None

    @model_validator(mode="after")
    def _measured(self) -> Violation:
        if (self.value_ms is None or self.limit_ms is None) and (self.value is None
                                                                 or self.limit is None):
            raise ValueError("a violation needs value_ms and limit_ms, or value and limit")
        return self


class Breach(Shape):
    """Consecutive violations of one metric merged into one row (the verdict's rows)."""

    metric: str
    endpoints: list[str]
    from_: str = Field(alias="from")
    to: str
    worst: float
    worst_endpoint: str
    worst_at: str
    limit: float


class Slo(Shape):
    met: bool
    violations: list[Violation]
    breaches: list[Breach] = []
    checked: list[str]


class LostSales(Shape):
    count: Figure
    value: Figure
    by_cause: dict[str, dict[str, Figure]]


class Summary(Shape):
    scenario: str
    seed: int
    replications: int
    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Level of every interval; summaries written before it was recorded were at 95%."""
    sessions: Figure
    requests: Figure
    orders: Figure
    gmv: Figure
    error_rate: Figure
    shed_rate: Figure
    lost_sales: LostSales
    latency_ms: dict[str, dict[str, Figure]]
    platform: dict[str, Figure]
    phases: dict[str, dict[str, dict[str, dict[str, Figure]]]] = {}
    inventory: dict[str, dict[str, Any]] = {}
    flash_sales: list[dict[str, Any]] = []
    coupons: dict[str, dict[str, Figure]] = {}
    payments: dict[str, Any] | None = None
    support: dict[str, Any] | None = None
    slo: Slo


class Threshold(Shape):
    metric: str
    endpoint: str = ""
    passed: bool
    value_ms: float | None = None
    limit_ms: float | None = None
    value: float | None = None
    limit: float | None = None


class Window(Shape):
    from_s: float
    scheduled: int
    started: int
    requests: int = 0
    p95_ms: float | None = None
    generator_busy: float | None = None


class DrillSessions(Shape):
    scheduled: int
    started: int
    late: int
    not_started: int


class Latency(Shape):
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p99_uncorrected_ms: float | None


class SoldOut(Shape):
    clock: str
    after_s: float


class StockRow(Shape):
    initial: int
    available: int
    reserved: int
    sold: int


class ServerStock(Shape):
    stock: dict[str, StockRow]
    oversold: dict[str, int]


class LoadGenerator(Shape):
    busy: float
    """The busiest load-generating process's share of a core over the load."""
    limited: bool


class Drill(Shape):
    scenario: str
    target: str
    window: list[str] = Field(min_length=2, max_length=2)
    compress: float
    scale: float
    users: int
    workers: int
    ran_s: float
    stopped_because: str
    passed: bool
    thresholds: list[Threshold]
    windows: list[Window]
    fidelity: float
    start_lag_ms: dict[str, float | None]
    sessions: DrillSessions
    endpoints: dict[str, Latency]
    sold_out: dict[str, SoldOut] = {}
    server: ServerStock | None = None
    load_generator: LoadGenerator | None = None


class ComparisonRow(Shape):
    figure: str
    endpoint: str
    phase: str
    predicted: float | None
    observed: float | None
    relative_error: float | None
    requests: int = 0
    sku: str = ""


class CurvePoint(Shape):
    throughput: float
    endpoints: dict[str, dict[str, float | None]]


class Comparison(Shape):
    note: str
    rows: list[ComparisonRow]
    notes: list[str] = []
    curve: list[CurvePoint] = []


def parse(content: bytes, shape: type[Shape], where: str) -> dict:
    """The JSON object in ``content`` if it has ``shape``; else a one-line
    :class:`ResultsError` naming ``where`` (the file) and what is wrong with it."""
    try:
        document = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ResultsError(f"{where}: not a JSON object")
    try:
        shape.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "the document"
        got = repr(first["input"]) if first["type"] != "missing" else "nothing"
        if len(got) > 40:
            got = got[:37] + "..."
        raise ResultsError(f"{where}: {field}: {first['msg'][0].lower()}{first['msg'][1:]}, "
                           f"got {got} (not a peakday {where.rsplit('/', 1)[-1]})") from None
    return document
