"""What a report is made from: the summary, the minute series and the scenario of one run.

Read from a results folder (``peakday report DIR``) or handed over in memory by ``simulate``;
both paths parse the same bytes, so the report of a run and its re-rendering are identical.
A missing or corrupt file is a :class:`~sim.results.folders.ResultsError` naming the file.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..results.folders import ResultsError
from ..scenario.schema import Scenario
from .shapes import Shape, Summary, parse

REQUIRED = ("summary.json", "timeseries.csv", "scenario.json")


@dataclass
class ReportData:
    summary: dict
    series: dict[str, np.ndarray]
    """Numeric columns of the minute series (blank cells are NaN)."""
    times: list[datetime]
    """Local clock time of each minute."""
    scenario: Scenario


def from_files(files: dict[str, bytes], where: str = "") -> ReportData:
    """Parse the three result files; ``where`` prefixes error messages (the folder)."""
    prefix = f"{where}/" if where else ""
    summary = parse(files["summary.json"], Summary, f"{prefix}summary.json")
    scenario_doc = parse(files["scenario.json"], Shape, f"{prefix}scenario.json")
    try:
        scenario = Scenario.model_validate(scenario_doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ResultsError(f"{prefix}scenario.json: not a peakday scenario "
                           f"({'.'.join(map(str, first['loc']))}: {first['msg']})") from None
    series, times = _series(files["timeseries.csv"], f"{prefix}timeseries.csv")
    return ReportData(summary, series, times, scenario)


def _series(content: bytes, name: str) -> tuple[dict[str, np.ndarray], list[datetime]]:
    try:
        rows = list(csv.reader(io.StringIO(content.decode())))
    except UnicodeDecodeError:
        raise ResultsError(f"{name}: not text (a peakday timeseries.csv)") from None
    if len(rows) < 2 or "time" not in rows[0] or "minute" not in rows[0]:
        raise ResultsError(f"{name}: no header with minute and time, or no rows")
    header = rows[0]
    columns: dict[str, list[float]] = {h: [] for h in header if h != "time"}
    times = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ResultsError(f"{name}:{number}: {len(row)} cells, header has {len(header)}")
        for key, cell in zip(header, row, strict=True):
            if key == "time":
                try:
                    times.append(datetime.fromisoformat(cell))
                except ValueError:
                    raise ResultsError(f"{name}:{number}: time {cell!r} is not ISO") from None
                continue
            try:
                columns[key].append(float(cell) if cell else math.nan)
            except ValueError:
                raise ResultsError(f"{name}:{number}: {key} {cell!r} is not a number") from None
    return {k: np.asarray(v) for k, v in columns.items()}, times


def from_folder(directory: Path) -> ReportData:
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"{directory}: not a results folder (a folder written by "
                           "peakday simulate)")
    return from_files({name: read(directory / name) for name in REQUIRED}, str(directory))


def read(path: Path) -> bytes:
    """A results file's bytes, or a one-line :class:`ResultsError` saying why not."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing (a results folder written by peakday)") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read it: {exc.strerror}") from None
