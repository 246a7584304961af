"""Numbers on the clock: "16 instances", or "16 from 00:00, 8 from 02:00, 24 from 19:30".

Capacity is planned by the time of day: SREs pre-scale before a promotion, contact centres
staff by shift. A schedule field accepts either one number (constant all day) or clock times
mapped to numbers; each value holds from its clock time until the next one, and the pattern
repeats every day (before the first clock time of a day, the last value of the day before
holds). :class:`StepSchedule` reads such a field in simulated time, for the model and for
sizing alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Annotated, Generic, TypeVar

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from .units import CLOCK_HINT, DAY, UnitError, format_clock, parse_clock

_HINT = 'a whole number, or clock times to whole numbers like {"00:00": 16, "19:30": 24}'


def _count(value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise UnitError(f"got {value!r} ({_HINT})")
    if value < minimum:
        raise UnitError(f"got {value!r} (a number >= {minimum})")
    return int(value)


def _schedule(minimum: int):
    def validate(value: object) -> int | dict[float, int]:
        if isinstance(value, Mapping):
            if not value:
                raise UnitError(f"the schedule is empty ({_HINT})")
            parsed: dict[float, int] = {}
            for key, count in value.items():
                try:
                    parsed[parse_clock(key)] = _count(count, minimum)
                except UnitError as exc:
                    raise UnitError(f"{key}: {exc}") from None
            return dict(sorted(parsed.items()))
        return _count(value, minimum)

    return validate


def _dump(value: int | dict[float, int]) -> int | dict[str, int]:
    if isinstance(value, dict):
        return {format_clock(key): count for key, count in value.items()}
    return value


def _schema(minimum: int) -> dict[str, object]:
    return {"anyOf": [{"type": "integer", "minimum": minimum},
                      {"type": "object", "minProperties": 1,
                       "propertyNames": {"pattern": r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$"},
                       "additionalProperties": {"type": "integer", "minimum": minimum}}],
            "description": f"{_HINT}; clock times are {CLOCK_HINT}"}


PositiveSchedule = Annotated[
    int | dict[float, int],
    PlainValidator(_schedule(1)),
    PlainSerializer(_dump),
    WithJsonSchema(_schema(1)),
]
"""A count >= 1, constant or on the clock (instances, autoscaling's minimum)."""


def values(schedule: int | dict[float, int]) -> list[int]:
    """Every number a schedule can take."""
    return list(schedule.values()) if isinstance(schedule, dict) else [schedule]


N = TypeVar("N", int, float)


class StepSchedule(Generic[N]):
    """A schedule field read in simulated seconds since the start of the run (counts, or rates
    such as ``support.contacts.baseline_per_hour``)."""

    def __init__(self, schedule: N | Mapping[float, N], start_time_of_day: float):
        points = schedule if isinstance(schedule, Mapping) else {0.0: schedule}
        self._steps: list[tuple[float, N]] = sorted(
            ((tod - start_time_of_day) % DAY, n) for tod, n in points.items())
        """(seconds into each simulated day, value from then on), in order."""

    @property
    def constant(self) -> bool:
        return len({n for _, n in self._steps}) == 1

    def at(self, t: float) -> N:
        """The value in force at simulated time ``t``."""
        into = t % DAY
        on = [n for offset, n in self._steps if offset <= into]
        return on[-1] if on else self._steps[-1][1]

    def steps(self, until: float) -> Iterator[tuple[float, N]]:
        """``(time, value)`` for every clock time of the schedule in (0, until], in time order
        (a value equal to the one before included: a plan may still change it)."""
        for day in range(math.ceil(until / DAY) + 1):
            for offset, n in self._steps:
                at = day * DAY + offset
                if at > until:
                    return
                if at > 0:
                    yield at, n

    def changes(self, until: float) -> Iterator[tuple[float, N, N]]:
        """``(time, before, after)`` for every change in (0, until], in time order."""
        current = self.at(0.0)
        for at, n in self.steps(until):
            if n != current:
                yield at, current, n
                current = n

    def next_change(self, t: float) -> float:
        """The first clock time of the schedule strictly after ``t`` (``inf`` if constant)."""
        if self.constant:
            return math.inf
        day, into = divmod(t, DAY)
        for offset, _ in self._steps:
            if offset > into:
                return day * DAY + offset
        return (day + 1) * DAY + self._steps[0][0]

    def integral(self, start: float, end: float) -> float:
        """The value integrated over [start, end) in simulated seconds (rate x seconds)."""
        total, t = 0.0, start
        while t < end:
            step_end = min(self.next_change(t), end)
            total += self.at(t) * (step_end - t)
            t = step_end
        return total
