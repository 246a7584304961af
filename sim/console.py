"""Terminal rendering: the progress bar of a run and the summary table at its end."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .run import Progress as ProgressCallback
from .scenario.schema import Scenario


@contextlib.contextmanager
def run_progress(scenario: Scenario, replications: int,
                 enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """A bar per replication over simulated time; yields the callback the run reports to."""
    if not enabled:
        yield None
        return
    clock = scenario.clock
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[at]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bars:
        tasks = [bars.add_task(f"replication {i + 1}/{replications}", total=clock.duration,
                               at=clock.label(0)) for i in range(replications)]

        def update(index: int, now: float) -> None:
            bars.update(tasks[index], completed=now, at=clock.label(now))

        yield update


def _num(value: object, fmt: str = ",.0f", unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        low, high = value["ci95"]
        return f"{value['mean']:{fmt}}{unit} (95% CI {low:{fmt}}–{high:{fmt}})"
    return f"{value:{fmt}}{unit}"


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


def print_summary(console: Console, summary: dict) -> None:
    """Verdict first, then the key figures a planner asks for."""
    slo = summary["slo"]
    if not slo["checked"]:
        console.print("[bold]No SLOs in the scenario[/] — figures only.")
    elif slo["met"]:
        console.print("[bold green]SLOs met[/] in every hour.")
    else:
        console.print(f"[bold red]SLOs not met[/]: {len(slo['violations'])} violation(s).")
        for v in slo["violations"][:8]:
            what = describe(v)
            window = f"{v['from']}–{v['to']}  " if v["from"] else ""
            console.print(f"  {window}{what} (over by {v['over_by']})")
        if len(slo["violations"]) > 8:
            console.print(f"  … and {len(slo['violations']) - 8} more in summary.json")
    table = Table(title=f"{summary['scenario']} — {summary['replications']} replication(s), "
                        f"seed {summary['seed']}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    platform = summary["platform"]
    latency = summary["latency_ms"]
    rows = [
        ("Sessions", _num(summary["sessions"])),
        ("Requests", _num(summary["requests"])),
        ("Orders", _num(summary["orders"])),
        ("GMV", _num(summary["gmv"])),
        ("Lost sales (all causes)", _num(summary["lost_sales"]["count"])),
        ("Lost sales value", _num(summary["lost_sales"]["value"])),
        ("Error rate", _num(summary["error_rate"], ".3%")),
        ("Shed rate", _num(summary["shed_rate"], ".3%")),
        ("Latency p99, all endpoints", _num(latency.get("all", {}).get("p99"), ",.0f", " ms")),
        *((f"Latency p99, {e}", _num(latency[e]["p99"], ",.0f", " ms"))
          for e in ("checkout", "pay") if e in latency),
        ("Peak requests/s", _num(platform["peak_requests_per_s"])),
        ("Peak utilization (per minute)", _num(platform["peak_utilization"], ".0%")),
        ("Peak instances", _num(platform["peak_instances"])),
        ("Instance-hours", _num(platform["instance_hours"], ",.1f")),
    ]
    for sale in summary.get("flash_sales", []):
        rows.append((f"Flash sale {sale['name']!r} sold out at",
                     sale["sold_out_at"] or "not sold out"))
    support = summary.get("support")
    if support:
        rows += [("Support contacts", _num(support["contacts"])),
                 ("Support service level", _num(support["service_level"], ".1%")),
                 ("Support abandoned", _num(support["abandon_rate"], ".1%"))]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
