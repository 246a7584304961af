"""Numbers and SLO violations in words, the same in the terminal and in the report."""

from __future__ import annotations


def fmt(figure: object, kind: str = "int") -> str:
    """A figure for people: ``12,345``, ``0.52%``, ``840 ms``; with its 95% interval."""
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


def describe(violation: dict) -> str:
    """One violation in words: what, how much, against which limit."""
    v = violation
    metric = v["metric"]
    if metric == "latency_p99":
        return f"{v['endpoint']} p99 {v['value_ms']:,.0f} ms > {v['limit_ms']:,.0f} ms"
    if metric == "error_rate":
        return f"error rate {v['value']:.2%} > {v['limit']:.2%}"
    if metric == "support_service_level":
        return f"support service level {v['value']:.0%} < {v['limit']:.0%}"
    if metric == "support_abandon_rate":
        return f"support abandonment {v['value']:.1%} > {v['limit']:.1%}"
    return f"{v['endpoint']} oversold {v['value']:g} units (limit {v['limit']})"
