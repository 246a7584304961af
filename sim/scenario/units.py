"""Human units of the scenario language: durations, clock times, fractions.

Scenario authors write ``250ms``, ``15m``, ``"20:00"`` and ``0.5%``; the model works in
seconds and plain fractions. Every parser here raises :class:`UnitError` whose message says
what was expected, because that text ends up verbatim in ``FILE:LINE: path: message``.
"""

from __future__ import annotations

import re

DAY = 86_400.0
"""Seconds in a day: clock times of day are offsets into it."""


LONGEST = 36_500 * DAY
"""The longest duration the language reads (100 years). Every count derived from a duration
(simulated minutes, staffing intervals, arrival chunks) must stay a workable integer: a
``1e30h`` is a clear error here rather than an OverflowError or a hang deep in the model.
How long a run may be is the estimate's business (sim.estimate), not the language's."""


class UnitError(ValueError):
    """A value that does not read as the unit the field expects."""


_SECONDS_PER = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": DAY}
_DURATION = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(us|ms|s|min|m|h|d)\s*$")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")

DURATION_HINT = "a duration with a unit, e.g. 250ms, 90s, 15m, 24h"
CLOCK_HINT = 'a time of day "HH:MM" from "00:00" to "24:00"'
FRACTION_HINT = "a fraction 0..1 or a percentage like 0.5%"


def parse_duration(value: object) -> float:
    """Seconds in a duration such as ``"250ms"``; ``0`` alone is allowed (no unit needed)."""
    if isinstance(value, bool):
        raise UnitError(f"got {value!r} ({DURATION_HINT})")
    if isinstance(value, int | float):
        if value == 0:
            return 0.0
        raise UnitError(f"got {value!r} without a unit ({DURATION_HINT})")
    if not isinstance(value, str):
        raise UnitError(f"got {type(value).__name__} ({DURATION_HINT})")
    if value.strip() == "0":
        return 0.0
    match = _DURATION.match(value)
    if not match:
        if _NUMBER.match(value):
            raise UnitError(f"got {value!r} without a unit ({DURATION_HINT})")
        raise UnitError(f"cannot read {value!r} as a duration ({DURATION_HINT})")
    seconds = float(match.group(1)) * _SECONDS_PER[match.group(2)]
    if not abs(seconds) <= LONGEST:
        raise UnitError(f"{value!r} is longer than {format_duration(LONGEST)}, the longest "
                        "duration peakday reads")
    return seconds


def parse_clock(value: object) -> float:
    """Seconds since midnight for ``"HH:MM"`` (or ``"HH:MM:SS"``); ``"24:00"`` is end of day.

    YAML 1.1 reads an unquoted ``20:00`` as the base-60 integer 1200; the loader keeps such
    scalars as text, so both quoted and unquoted clock times arrive here as strings.
    """
    if not isinstance(value, str):
        raise UnitError(f"got {value!r} ({CLOCK_HINT})")
    match = _CLOCK.match(value)
    if not match:
        raise UnitError(f"cannot read {value!r} as a clock time ({CLOCK_HINT})")
    hours, minutes = int(match.group(1)), int(match.group(2))
    seconds = float(match.group(3) or 0)
    if minutes > 59 or seconds >= 60 or hours > 24:
        raise UnitError(f"{value!r} is not a valid time of day ({CLOCK_HINT})")
    total = hours * 3600.0 + minutes * 60.0 + seconds
    if total > DAY:
        raise UnitError(f"{value!r} is after the end of the day ({CLOCK_HINT})")
    return total


def parse_fraction(value: object) -> float:
    """A probability or share: ``0.05``, ``5%`` or ``"0.5%"``; must lie in [0, 1]."""
    if isinstance(value, bool):
        raise UnitError(f"got {value!r} ({FRACTION_HINT})")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%") and _NUMBER.match(text[:-1]):
            number = float(text[:-1]) / 100.0
        elif _NUMBER.match(text):
            number = float(text)
        else:
            raise UnitError(f"cannot read {value!r} as a fraction ({FRACTION_HINT})")
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise UnitError(f"got {type(value).__name__} ({FRACTION_HINT})")
    if not 0.0 <= number <= 1.0:
        raise UnitError(f"{value!r} is outside [0, 1] ({FRACTION_HINT})")
    return number


def parse_number(value: object) -> float:
    """A plain number (counts, money); strings that look like numbers are accepted."""
    if isinstance(value, bool):
        raise UnitError(f"got {value!r} (a number)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    raise UnitError(f"cannot read {value!r} as a number (a plain number without a unit)")


def format_duration(seconds: float) -> str:
    """The shortest exact human spelling of a duration, for schemas and dumps."""
    if seconds == 0:
        return "0s"
    for unit in ("d", "h", "m", "s", "ms"):
        amount = seconds / _SECONDS_PER[unit]
        if abs(amount) >= 1 and abs(amount - round(amount)) < 1e-9:
            return f"{round(amount)}{unit}"
    return f"{seconds * 1000:g}ms"


def format_clock(seconds: float) -> str:
    """``"HH:MM"`` (or ``"HH:MM:SS"``) for seconds since midnight."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
