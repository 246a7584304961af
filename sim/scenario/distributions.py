"""Named distributions: small validated objects that sample from a numpy Generator.

A scenario writes ``exponential(mean=8s)`` or ``lognormal(median=350ms, p99=2s)``; :func:`parse`
turns that text into one of the classes below. Each checks its own parameters when built (as
Ciw's distributions do), so a bad parameter is reported against the scenario line that wrote
it, never discovered mid-simulation. Values are seconds for time-valued fields and plain
numbers for counts and money: the field decides which (:class:`Kind`).
"""

from __future__ import annotations

import csv
import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from .units import UnitError, format_duration, parse_duration, parse_number

if TYPE_CHECKING:  # numpy is imported where a distribution is sampled: validating a
    import numpy as np  # scenario needs none of it (peakday validate starts faster)

Z99 = 2.3263478740408408
"""The standard normal 99th percentile: links a lognormal's median and p99."""


class Kind(Enum):
    """What a distribution's values measure; decides how parameters are read."""

    TIME = "time"
    COUNT = "count"
    MONEY = "money"


class Distribution(ABC):
    """A distribution of non-negative values; subclasses are frozen dataclasses."""

    kind: Kind

    @abstractmethod
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws as a float array."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """The expected value (used by sizing starts and by tests against theory)."""

    @property
    def is_zero(self) -> bool:
        """True when every draw is 0: such a step can never happen (e.g. no product views)."""
        return False

    def _fmt(self, value: float) -> str:
        return format_value(value, self.kind)


@dataclass(frozen=True)
class Constant(Distribution):
    value: float
    kind: Kind = Kind.TIME

    def __post_init__(self) -> None:
        _check(self.value >= 0, f"constant value must be >= 0, got {self._fmt(self.value)}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        import numpy as np

        return np.full(size, self.value)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def is_zero(self) -> bool:
        return self.value == 0

    def __str__(self) -> str:
        return f"constant({self._fmt(self.value)})"


@dataclass(frozen=True)
class Exponential(Distribution):
    mean_value: float
    kind: Kind = Kind.TIME

    def __post_init__(self) -> None:
        _check(self.mean_value > 0, "exponential mean must be > 0")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean_value, size)

    @property
    def mean(self) -> float:
        return self.mean_value

    def __str__(self) -> str:
        return f"exponential(mean={self._fmt(self.mean_value)})"


@dataclass(frozen=True)
class Lognormal(Distribution):
    """Lognormal by ``mu``/``sigma`` of the underlying normal; built from mean+cv or median+p99."""

    mu: float
    sigma: float
    kind: Kind = Kind.TIME
    spec: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check(self.sigma >= 0 and math.isfinite(self.mu), "lognormal parameters out of range")

    @classmethod
    def from_mean_cv(cls, mean: float, cv: float, kind: Kind) -> Lognormal:
        _check(mean > 0, "lognormal mean must be > 0")
        _check(cv >= 0, "lognormal cv must be >= 0")
        sigma2 = math.log1p(cv * cv)
        spec = f"lognormal(mean={format_value(mean, kind)}, cv={cv:g})"
        return cls(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), kind, spec)

    @classmethod
    def from_median_p99(cls, median: float, p99: float, kind: Kind) -> Lognormal:
        _check(median > 0, "lognormal median must be > 0")
        _check(p99 >= median, "lognormal p99 must be >= median")
        spec = f"lognormal(median={format_value(median, kind)}, p99={format_value(p99, kind)})"
        return cls(math.log(median), math.log(p99 / median) / Z99, kind, spec)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def __str__(self) -> str:
        return self.spec or f"lognormal(mu={self.mu:g}, sigma={self.sigma:g})"


@dataclass(frozen=True)
class Geometric(Distribution):
    """Counts 0, 1, 2, ... with the given mean (number of *extra* tries or views)."""

    mean_value: float
    kind: Kind = Kind.COUNT

    def __post_init__(self) -> None:
        _check(self.mean_value >= 0, "geometric mean must be >= 0")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.mean_value == 0:
            import numpy as np

            return np.zeros(size)
        return rng.geometric(1.0 / (1.0 + self.mean_value), size) - 1.0

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def is_zero(self) -> bool:
        return self.mean_value == 0

    def __str__(self) -> str:
        return f"geometric(mean={self.mean_value:g})"


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float
    kind: Kind = Kind.TIME

    def __post_init__(self) -> None:
        _check(0 <= self.low <= self.high, "uniform needs 0 <= low <= high")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def is_zero(self) -> bool:
        return self.high == 0

    def __str__(self) -> str:
        return f"uniform({self._fmt(self.low)}, {self._fmt(self.high)})"


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resamples observed values (e.g. measured service times) read from a CSV file."""

    values: tuple[float, ...]
    kind: Kind = Kind.TIME
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check(len(self.values) > 0, f"empirical file {self.source} has no values")
        _check(min(self.values) >= 0, f"empirical file {self.source} has negative values")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(self.values, size)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def is_zero(self) -> bool:
        return max(self.values) == 0

    def __str__(self) -> str:
        return f"empirical({self.source})"


@dataclass(frozen=True)
class Scaled(Distribution):
    """``base`` with every draw multiplied by ``factor``.

    A drill runs the scenario ``compress`` times faster than its clock, against a target that
    works in real time: on the scenario's clock the target's every duration lasts ``compress``
    times longer. The model predicts a drill by running the target's durations scaled so.
    """

    base: Distribution
    factor: float
    kind: Kind = Kind.TIME

    def __post_init__(self) -> None:
        _check(self.factor > 0, f"a scale factor must be > 0, got {self.factor:g}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.base.sample(rng, size) * self.factor

    @property
    def mean(self) -> float:
        return self.base.mean * self.factor

    @property
    def is_zero(self) -> bool:
        return self.base.is_zero

    def __str__(self) -> str:
        return f"{self.base} x {self.factor:g}"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UnitError(message)


def format_value(value: float, kind: Kind) -> str:
    return format_duration(value) if kind is Kind.TIME else f"{value:g}"


_SPEC = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.DOTALL)
NAMES = ("exponential", "lognormal", "geometric", "constant", "uniform", "empirical")
HINT = (
    "a distribution like exponential(mean=8s), lognormal(mean=110ms, cv=0.6), "
    "lognormal(median=350ms, p99=2s), geometric(mean=3), constant(2s), uniform(1s, 3s) "
    "or empirical(file.csv)"
)


def parse(text: object, kind: Kind, base_dir: Path | None = None) -> Distribution:
    """Build a distribution from its scenario spelling; raise :class:`UnitError` with a hint."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        text = f"constant({text})"
    if not isinstance(text, str):
        raise UnitError(f"got {type(text).__name__} ({HINT})")
    match = _SPEC.match(text)
    if not match:
        raise UnitError(f"cannot read {text!r} as a distribution ({HINT})")
    name, body = match.group(1), match.group(2).strip()
    if name not in NAMES:
        raise UnitError(f"unknown distribution {name!r} (one of {', '.join(NAMES)})")
    if name == "empirical":
        return _empirical(body, kind, base_dir)
    positional, named = _arguments(body)
    read = _reader(kind)
    if name == "constant":
        (value,) = _take(name, positional, named, ("value",))
        return Constant(read(value), kind)
    if name == "exponential":
        (mean,) = _take(name, positional, named, ("mean",))
        return Exponential(read(mean), kind)
    if name == "geometric":
        (mean,) = _take(name, positional, named, ("mean",))
        return Geometric(parse_number(mean), kind)
    if name == "uniform":
        low, high = _take(name, positional, named, ("low", "high"))
        return Uniform(read(low), read(high), kind)
    if set(named) == {"mean", "cv"} and not positional:
        return Lognormal.from_mean_cv(read(named["mean"]), parse_number(named["cv"]), kind)
    if set(named) == {"median", "p99"} and not positional:
        return Lognormal.from_median_p99(read(named["median"]), read(named["p99"]), kind)
    raise UnitError(f"lognormal takes (mean=, cv=) or (median=, p99=), got ({body})")


def _reader(kind: Kind):
    return parse_duration if kind is Kind.TIME else parse_number


def _arguments(body: str) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    named: dict[str, str] = {}
    for part in (p.strip() for p in body.split(",")) if body else ():
        if not part:
            raise UnitError(f"empty argument in ({body})")
        key, eq, value = part.partition("=")
        if eq:
            named[key.strip()] = value.strip()
        else:
            positional.append(part)
    return positional, named


def _take(name: str, positional: list[str], named: dict[str, str], params: tuple[str, ...]):
    unknown = set(named) - set(params)
    if unknown:
        takes = ", ".join(params)
        raise UnitError(f"{name} has no parameter {sorted(unknown)[0]!r} (takes {takes})")
    values = dict(zip(params, positional, strict=False))
    if len(positional) > len(params):
        raise UnitError(f"{name} takes {len(params)} argument(s) ({', '.join(params)})")
    for key, value in named.items():
        if key in values:
            raise UnitError(f"{name}: {key} given twice")
        values[key] = value
    missing = [p for p in params if p not in values]
    if missing:
        raise UnitError(f"{name} needs {', '.join(missing)} (e.g. {name}({params[0]}=...))")
    return [values[p] for p in params]


def _empirical(body: str, kind: Kind, base_dir: Path | None) -> Empirical:
    if not body:
        raise UnitError("empirical needs a CSV file name, e.g. empirical(service_times.csv)")
    path = Path(body)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        with path.open(newline="") as handle:
            rows = [row[0].strip() for row in csv.reader(handle) if row and row[0].strip()]
    except OSError as exc:
        raise UnitError(f"cannot read empirical file {body!r}: {exc.strerror}") from None
    read = _reader(kind)
    values = []
    for number, cell in enumerate(rows, start=1):
        try:
            values.append(read(cell))
        except UnitError as exc:
            if number == 1 and not values:
                continue  # a header row
            raise UnitError(f"{body} row {number}: {exc}") from None
    return Empirical(tuple(values), kind, body)
