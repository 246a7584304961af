"""Numbers and SLO violations in words, the same in the terminal and in the report."""

from __future__ import annotations

from typing import Any

SummaryFigure = float | dict[str, Any] | None
"""A figure of summary.json: a number (one replication), ``{"mean", "ci95"}`` (several) or
None (nothing measured)."""

OLDER_SUMMARIES_CONFIDENCE = 0.95
"""The level of the intervals in a summary.json written before it said (they were all 95%)."""


def confidence_level(summary: dict[str, Any]) -> str:
    """The level of a summary's intervals for people: ``95%``, ``90%``, ``97.5%``."""
    return f"{summary.get('confidence', OLDER_SUMMARIES_CONFIDENCE) * 100:g}%"


def plural(count: int, noun: str) -> str:
    """``1 instance``, ``3 instances``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def fmt(figure: SummaryFigure, kind: str = "int") -> str:
    """A figure for people: ``12,345``, ``0.52%``, ``840 ms``; with its interval."""
    if isinstance(figure, dict):
        low, high = figure["ci95"]
        return f"{fmt(figure['mean'], kind)} ({fmt(low, kind)}–{fmt(high, kind)})"
    if figure is None:
        return "–"
    value = float(figure)
    if kind == "pct":
        return f"{value:.2%}" if abs(value) < 0.1 else f"{value:.1%}"
    if kind == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if kind == "s":
        return f"{value:,.1f} s"
    if kind == "money":
        return f"{value:,.0f}"
    if kind == "float":
        return f"{value:,.1f}"
    return f"{value:,.0f}"


GENERATOR_BUSY = "load generator busy"
"""comparison.json's figure for the share of a core each load-generating process spends."""


def comparison_value(figure: str, value: float | None) -> str:
    """A value of a comparison.json row (``figure``: sessions, throughput, latency p95, ...)
    for people; the file keeps every digit."""
    if value is None:
        return "–"
    if figure == "error rate":  # a handful of errors in a big drill is not 0.00%
        return f"{value * 100:.3g}%"
    if figure == "throughput":
        return f"{value:,.1f}/s"
    if figure.startswith("latency"):
        return f"{value:,.1f} ms"
    if figure.startswith("CPU"):  # the unit is in the figure's name
        return f"{value:.3f}"
    if figure == GENERATOR_BUSY:  # a share of one process's core
        return f"{value:.0%}"
    if figure.startswith("sold out"):
        return fmt(value, "float")
    return fmt(value)


def plan_parts(options: dict) -> list[str]:
    """The ``--overlay``/``--set`` options a run was made with, one per item, as typed."""
    return [*(f"--overlay {o}" for o in options.get("overlays", [])),
            *(f"--set {s}" for s in options.get("set", []))]


def plan_text(options: dict) -> str:
    return " ".join(plan_parts(options))


def value_of(figure: object) -> float | None:
    """The number of a figure: itself, or the mean of ``{"mean", "ci95"}``."""
    if isinstance(figure, dict):
        figure = figure.get("mean")
    return float(figure) if isinstance(figure, int | float) else None


def compact(value: float | None) -> str:
    """Large amounts as planners say them: ``51.1 M``, ``25.3 k``, ``812``."""
    if value is None:
        return "–"
    for size, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{value / size:,.1f}{suffix}"
    return f"{value:,.0f}"


_WORDS = {"latency_p99": "p99", "error_rate": "error rate",
          "support_service_level": "support service level",
          "support_abandon_rate": "support abandonment"}


def _amount(metric: str, value: float) -> str:
    if metric == "latency_p99":
        return f"{value:,.0f} ms"
    if metric == "error_rate":
        return f"{value:.2%}"
    if metric == "support_service_level" and round(value * 100, 1).is_integer():
        return f"{value:.0%}"  # a target such as 80%; a figure keeps its decimal: 79.7% < 80%
    return f"{value:.1%}"


def _gap(metric: str, worst: float, limit: float) -> str:
    """How far from the SLO: a ratio for latency, points for rates (an error rate of 19.1%
    against 0.5% is 18.6 points over, which a planner reads; "over by 3720%" is not), and
    "short by" where the SLO is a floor."""
    if metric == "latency_p99":
        return f"over by {worst / limit - 1:.0%}" if limit else "over"
    points = abs(worst - limit) * 100
    shown = f"{points:.0f}" if points >= 1 else f"{points:.1f}"
    word = "short" if metric == "support_service_level" else "over"
    return f"{word} by {shown} points"


def _burst(row: dict) -> str:
    minutes = row.get("minutes") or []
    if not minutes:
        return ""
    where = "one minute, " + minutes[0] if len(minutes) == 1 else \
        f"{len(minutes)} minutes, " + ", ".join(minutes)
    text = f"; the breach sits in {where}"
    if "failed_in_burst" in row:
        text += (f" ({row['failed_in_burst']:,.0f} failed requests; the rest of the hour "
                 f"{row['rest_of_hour'] * 100:.2g}%)")
    return text


def breach_text(row: dict) -> str:
    """One merged breach of the verdict in words: what, how bad at worst, by how much, where
    the worst was, and whether it sits in a burst of minutes."""
    metric = row["metric"]
    if metric == "oversell":
        return f"{row['endpoints'][0]} oversold {row['worst']:g} units (limit {row['limit']:g})"
    worst, limit = row["worst"], row["limit"]
    floor = metric == "support_service_level"
    extreme = ("down to" if floor else "up to") if row["intervals"] > 1 else ""
    amount = f"{extreme} {_amount(metric, worst)}".strip()
    if metric == "latency_p99":
        names = row["endpoints"]
        subject = f"{names[0]} p99" if len(names) == 1 else \
            f"p99 over its SLO on {', '.join(names)}; worst {row['worst_endpoint']}"
    else:
        subject = _WORDS[metric]
    text = (f"{subject} {amount} {'<' if floor else '>'} {_amount(metric, limit)} "
            f"({_gap(metric, worst, limit)})")
    if row["intervals"] > 1:
        text += f", worst at {row['worst_at']}"
    return text + _burst(row)
