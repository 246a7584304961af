"""Traffic from history: ``sessions_per_min`` read from a CSV of last year's day, scaled.

Planners hold last year's sessions per minute as an export, not as a dozen hand-picked
points. ``traffic.sessions_per_min`` may therefore name a CSV file (clock time, sessions per
minute), alone or with a ``growth`` factor::

    sessions_per_min: history/double11-2025.csv
    sessions_per_min: {csv: history/double11-2025.csv, growth: 1.25}

The file is read once, here, into the same clock-time -> rate points an inline curve gives
(times of day; an ISO date-time counts by its time of day), so the model and the drills see
one kind of curve. Every bad row is reported as ``FILE:LINE: what is wrong``.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

from .units import CLOCK_HINT, UnitError, format_clock, parse_clock

FORM_HINT = ("a mapping of clock time -> sessions per minute, a CSV file name, or "
             "{csv: file.csv, growth: 1.2}")


def history_source(value: object) -> dict[str, object] | None:
    """``{"csv", "growth"}`` when ``value`` names a CSV, else None (inline points)."""
    if isinstance(value, str):
        return {"csv": value, "growth": 1.0}
    if isinstance(value, dict) and "csv" in value:
        try:
            growth = _growth(value.get("growth", 1.0))
        except UnitError:
            growth = 1.0  # reported once, by resolve_points, at sessions_per_min
        return {"csv": value["csv"], "growth": growth}
    return None


def resolve_points(value: object, base_dir: Path | None) -> object:
    """Inline points pass through; a CSV (with its growth) becomes points ``{"HH:MM": rate}``."""
    if isinstance(value, str):
        return read_history(value, 1.0, base_dir)
    if isinstance(value, dict) and ("csv" in value or "growth" in value):
        unknown = sorted(set(value) - {"csv", "growth"})
        if unknown:
            raise UnitError(f"unknown key {unknown[0]!r} beside csv ({FORM_HINT})")
        if "csv" not in value:
            raise UnitError(f"growth needs a csv to grow ({FORM_HINT})")
        return read_history(value["csv"], _growth(value.get("growth", 1.0)), base_dir)
    return value


def _growth(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value <= 0:
        raise UnitError(f"growth {value!r} is not a factor above 0 (1.25 = a quarter more "
                        "sessions than the file)")
    return float(value)


def read_history(name: object, growth: float, base_dir: Path | None) -> dict[str, float]:
    """The CSV's points times ``growth``; a header row is skipped, blank lines too."""
    if not isinstance(name, str) or not name.strip():
        raise UnitError(f"csv {name!r} is not a file name ({FORM_HINT})")
    path = Path(name.strip())
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise UnitError(f"{name}: cannot read it: {exc.strerror} (a CSV of clock time, "
                        "sessions per minute, relative to the scenario)") from None
    except UnicodeDecodeError:
        raise UnitError(f"{name}: not UTF-8 text (a CSV of clock time, sessions per "
                        "minute)") from None
    points: dict[str, float] = {}
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and not _is_time(cells[0]):
            continue  # a header such as "time,sessions_per_min"
        where = f"{name}:{number}"
        if len(cells) < 2 or not cells[1]:
            raise UnitError(f"{where}: expected two cells, clock time and sessions per minute")
        clock = _time_of_day(cells[0], where)
        try:
            rate = float(cells[1])
        except ValueError:
            raise UnitError(f"{where}: rate {cells[1]!r} is not a number (sessions per "
                            "minute)") from None
        if not math.isfinite(rate) or rate < 0:
            raise UnitError(f"{where}: rate {cells[1]!r} must be a number >= 0")
        key = format_clock(clock)
        if key in points:
            raise UnitError(f"{where}: {key} appears twice (one rate per clock time)")
        points[key] = rate * growth
    if not points:
        raise UnitError(f"{name}: no rows (clock time, sessions per minute)")
    return points


def _is_time(cell: str) -> bool:
    try:
        _time_of_day(cell, "")
    except UnitError:
        return False
    return True


def _time_of_day(cell: str, where: str) -> float:
    try:
        return parse_clock(cell)
    except UnitError:
        pass
    try:
        moment = datetime.fromisoformat(cell)
    except ValueError:
        raise UnitError(f"{where}: cannot read {cell!r} as a clock time ({CLOCK_HINT}, or an "
                        "ISO date-time)") from None
    return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second
