"""Comparing plans: key figures and SLO results of several runs side by side, with deltas.

An engineer weighing two plans (32 instances or 40? row locks or shards?) runs each with the
same seed and replications, then ``peakday compare A B [C...]``. Replication ``i`` of every run
draws the same random numbers (the same shoppers arrive), so the runs are paired: a difference
is judged on the per-replication differences (paired t-test), which cancels most of the day's
noise. Runs with different seeds or replication counts fall back to Welch's unpaired test.
The first run is the baseline every other column is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ..report.data import read
from ..report.formatting import SummaryFigure, fmt, plan_parts, value_of
from ..report.shapes import Summary, parse
from .folders import ResultsError

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Measure:
    key: str
    """Key in ``summary.json``'s ``per_replication``."""
    label: str
    kind: str
    """How :func:`fmt` shows it; ``pct`` differences are in percentage points."""
    pick: Callable[[dict], SummaryFigure]
    """The figure in a ``summary.json``."""


def _support(key: str) -> Callable[[dict], SummaryFigure]:
    return lambda s: (s.get("support") or {}).get(key)


def _p99(endpoint: str) -> Callable[[dict], SummaryFigure]:
    return lambda s: s["latency_ms"].get(endpoint, {}).get("p99")


MEASURES = (
    Measure("sessions", "sessions", "int", lambda s: s["sessions"]),
    Measure("orders", "orders", "int", lambda s: s["orders"]),
    Measure("gmv", "GMV", "money", lambda s: s["gmv"]),
    Measure("lost_sales_value", "lost sales (value)", "money",
            lambda s: s["lost_sales"]["value"]),
    Measure("error_rate", "error rate", "pct", lambda s: s["error_rate"]),
    Measure("p99_ms_all", "p99, all endpoints", "ms", _p99("all")),
    Measure("p99_ms_checkout", "p99, checkout", "ms", _p99("checkout")),
    Measure("p99_ms_pay", "p99, pay", "ms", _p99("pay")),
    Measure("peak_instances", "peak instances", "int", lambda s: s["platform"]["peak_instances"]),
    Measure("instance_hours", "instance-hours", "float",
            lambda s: s["platform"]["instance_hours"]),
    Measure("support_service_level", "support service level", "pct",
            _support("service_level")),
    Measure("support_abandon_rate", "support abandonment", "pct", _support("abandon_rate")),
)


@dataclass
class Run:
    folder: Path
    summary: dict

    @property
    def label(self) -> str:
        return self.folder.name

    @property
    def plan(self) -> list[str]:
        """The ``--overlay``/``--set`` options the run was made with, as typed."""
        return plan_parts(self.summary.get("options") or {})


def load_run(folder: Path) -> Run:
    """A results folder's summary, or a one-line :class:`ResultsError`."""
    path = Path(folder) / "summary.json"
    if not Path(folder).is_dir():
        raise ResultsError(f"{folder}: not a results folder (a folder written by peakday "
                           "simulate)")
    summary = parse(read(path), Summary, str(path))
    return Run(Path(folder), summary)


def difference_test(base: list[float], other: list[float], paired: bool) -> float | None:
    """The two-sided p-value that ``other`` differs from ``base``; None without replications.

    Paired: a t-test on the per-replication differences. A difference that is the same in
    every replication (no variance) is certain when it is not zero.
    """
    a, b = np.asarray(base, float), np.asarray(other, float)
    if paired:
        if len(a) != len(b) or len(a) < 2:
            return None
        diff = b - a
        if np.allclose(diff, diff[0]):
            return 1.0 if math.isclose(diff[0], 0.0, abs_tol=1e-12) else 0.0
        return float(stats.ttest_rel(b, a).pvalue)
    if len(a) < 2 or len(b) < 2:
        return None
    if np.allclose(a, a[0]) and np.allclose(b, b[0]):
        return 1.0 if math.isclose(a[0], b[0]) else 0.0
    return float(stats.ttest_ind(b, a, equal_var=False).pvalue)


def _paired(base: dict, other: dict) -> bool:
    """Common random numbers: same seed and replication count (replication i sees the same
    arrivals and shoppers in both runs)."""
    return (base.get("seed"), base.get("replications")) == \
        (other.get("seed"), other.get("replications"))


def _delta(kind: str, base: float | None, value: float | None) -> str:
    if base is None or value is None:
        return ""
    if kind == "pct":
        return f"{(value - base) * 100:+.2f} pts"
    if base == 0:
        return "+0" if value == 0 else f"{value - base:+,.4g}"
    return f"{value / base - 1:+.1%}"


def compare(runs: list[Run]) -> dict:
    """The comparison document: runs, one row per key figure, and each run's SLO verdict."""
    base = runs[0].summary
    rows = []
    for measure in MEASURES:
        figures = [measure.pick(r.summary) for r in runs]
        if all(f is None for f in figures):
            continue
        means = [value_of(f) for f in figures]
        if not any(means):
            continue  # nothing happened in any run (no orders in a textbook scenario)
        cells = []
        for run, figure, mean in zip(runs, figures, means, strict=True):
            cell: dict[str, object] = {"value": mean, "shown": fmt(figure, measure.kind)}
            if run is not runs[0]:
                paired = _paired(base, run.summary)
                base_values, values = ((r.summary.get("per_replication") or {}).get(measure.key)
                                       for r in (runs[0], run))
                p = difference_test(base_values, values, paired) \
                    if base_values and values else None
                cell.update(delta=_delta(measure.kind, means[0], mean), p=p,
                            paired=paired, significant=p is not None and p < SIGNIFICANCE)
            cells.append(cell)
        rows.append({"key": measure.key, "label": measure.label, "cells": cells})
    return {
        "baseline": runs[0].label,
        "runs": [{"folder": str(r.folder), "label": r.label,
                  "scenario": r.summary.get("scenario"), "seed": r.summary.get("seed"),
                  "replications": r.summary.get("replications"), "plan": r.plan,
                  "plan_text": " ".join(r.plan),
                  "slo_met": r.summary["slo"].get("met"),
                  "breaches": [b["text"] for b in r.summary["slo"].get("breaches", [])]}
                 for r in runs],
        "rows": rows,
    }
