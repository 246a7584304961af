"""Pydantic field types for the scenario's human units and distributions.

Each type parses the human spelling (``90s``, ``"20:00"``, ``0.5%``, ``lognormal(...)``) into
seconds, fractions or a :class:`~sim.scenario.distributions.Distribution`, serialises back to
that spelling, and publishes a JSON Schema string pattern so editors can complete and check
scenario files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)

from . import distributions as dists
from .history import FORM_HINT, resolve_points
from .units import (
    CLOCK_HINT,
    DURATION_HINT,
    FRACTION_HINT,
    UnitError,
    format_clock,
    format_duration,
    parse_clock,
    parse_duration,
    parse_fraction,
)


def _positive_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise UnitError(f"must be longer than 0, got {value!r} ({DURATION_HINT})")
    return seconds


def _non_negative_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds < 0:
        raise UnitError(f"must not be negative, got {value!r} ({DURATION_HINT})")
    return seconds


_DURATION_SCHEMA = {"type": "string",
                    "pattern": r"^\s*(0|\d+(\.\d*)?\s*(us|ms|s|min|m|h|d))\s*$",
                    "description": DURATION_HINT}
_CLOCK_SCHEMA = {"type": "string", "pattern": r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$",
                 "description": CLOCK_HINT}
_FRACTION_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1},
                              {"type": "string", "pattern": r"^\s*[\d.]+\s*%\s*$"}],
                    "description": FRACTION_HINT}
_DIST_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^\s*[a-z_]+\s*\(.*\)\s*$"},
                          {"type": "number", "minimum": 0}],
                "description": dists.HINT}

UNIT_SCHEMAS: list[tuple[dict[str, Any], str]] = [
    (_DURATION_SCHEMA, DURATION_HINT), (_CLOCK_SCHEMA, CLOCK_HINT),
    (_FRACTION_SCHEMA, FRACTION_HINT), (_DIST_SCHEMA, dists.HINT)]
"""The JSON Schemas of the unit types and their hints (the schema command adds the hint to a
field's own description)."""

Duration = Annotated[
    float,
    PlainValidator(_non_negative_duration),
    PlainSerializer(format_duration),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A non-negative duration in seconds (``0`` allowed)."""

PositiveDuration = Annotated[
    float,
    PlainValidator(_positive_duration),
    PlainSerializer(format_duration),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A duration in seconds that must be > 0 (timeouts, intervals)."""

ClockTime = Annotated[
    float, PlainValidator(parse_clock), PlainSerializer(format_clock), WithJsonSchema(_CLOCK_SCHEMA)
]
"""A time of day as seconds since midnight; ``"24:00"`` is 86400."""

Fraction = Annotated[
    float, PlainValidator(parse_fraction), WithJsonSchema(_FRACTION_SCHEMA)
]
"""A probability or share in [0, 1]; ``"0.5%"`` is 0.005."""

Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Money = Annotated[float, Field(ge=0)]
Rate = Annotated[float, Field(ge=0)]


def _dist_validator(kind: dists.Kind) -> PlainValidator:
    def validate(value: object, info: ValidationInfo) -> dists.Distribution:
        if isinstance(value, dists.Distribution):
            return value
        base_dir = (info.context or {}).get("base_dir")
        return dists.parse(value, kind, Path(base_dir) if base_dir else None)

    return PlainValidator(validate)


# Spelled out (not built by a function) so that type checkers see real aliases of Distribution.
TimeDist = Annotated[
    dists.Distribution, _dist_validator(dists.Kind.TIME), PlainSerializer(str),
    WithJsonSchema(_DIST_SCHEMA),
]
"""A distribution of durations (seconds); parameters need units: ``exponential(mean=8s)``."""
CountDist = Annotated[
    dists.Distribution, _dist_validator(dists.Kind.COUNT), PlainSerializer(str),
    WithJsonSchema(_DIST_SCHEMA),
]
"""A distribution of counts: ``geometric(mean=3)``."""
MoneyDist = Annotated[
    dists.Distribution, _dist_validator(dists.Kind.MONEY), PlainSerializer(str),
    WithJsonSchema(_DIST_SCHEMA),
]
"""A distribution of currency amounts: ``lognormal(mean=180, cv=1.0)``."""


def _points(value: object, info: ValidationInfo) -> object:
    base_dir = (info.context or {}).get("base_dir")
    return resolve_points(value, Path(base_dir) if base_dir else None)


RatePoints = Annotated[
    dict[ClockTime, Rate],
    BeforeValidator(_points),
    WithJsonSchema({"anyOf": [
        {"type": "object", "additionalProperties": {"type": "number", "minimum": 0},
         "propertyNames": _CLOCK_SCHEMA},
        {"type": "string", "description": "a CSV file: clock time, sessions per minute"},
        {"type": "object", "properties": {"csv": {"type": "string"},
                                          "growth": {"type": "number", "exclusiveMinimum": 0}},
         "required": ["csv"], "additionalProperties": False},
    ], "description": FORM_HINT}),
]
"""Sessions per minute at clock times, inline or from a CSV with a growth factor; always
resolved to inline points (so ``scenario.json`` needs no CSV to be read again)."""
