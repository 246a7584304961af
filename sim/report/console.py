"""Terminal rendering: the progress bar of a run and the summary table at its end."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..run import Progress as ProgressCallback
from ..scenario.schema import Scenario
from .formatting import confidence_level, fmt


@contextlib.contextmanager
def run_progress(scenario: Scenario, replications: int,
                 enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """One bar over all replications' simulated time, with the time remaining; yields the
    callback the run reports to (replication index, simulated seconds done)."""
    if not enabled:
        yield None
        return
    duration = scenario.clock.duration
    done = [0.0] * replications
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[at]}"), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{replications} replication{'s' if replications > 1 else ''}",
                            total=duration * replications, at="")

        def update(index: int, now: float) -> None:
            done[index] = min(now, duration)
            finished = sum(1 for d in done if d >= duration)
            bar.update(task, completed=sum(done), at=f"{finished}/{replications} done")

        yield update


VERDICT_ROWS = 12
"""Merged breaches shown in the terminal; the rest are counted (all are in summary.json)."""


def print_verdict(console: Console, summary: dict) -> None:
    """The SLO verdict as merged breaches, then the business findings."""
    slo = summary["slo"]
    breaches = slo.get("breaches", [])
    if not slo["checked"]:
        console.print("[bold]No SLOs in the scenario[/] — figures only.")
    elif slo["met"]:
        console.print("[bold green]SLOs met[/] in every hour.")
    else:
        console.print(f"[bold red]SLOs not met[/]: {len(breaches)} breach(es) "
                      f"({len(slo['violations'])} interval(s) in summary.json).")
        for row in breaches[:VERDICT_ROWS]:
            window = f"{row['from']}–{row['to']}  " if row["from"] else ""
            console.print(f"  {window}{row['text']}", markup=False)
        if len(breaches) > VERDICT_ROWS:
            console.print(f"  … and {len(breaches) - VERDICT_ROWS} more in summary.json")
    for finding in summary.get("findings", []):
        console.print(f"  • {finding['text']}", markup=False)


def print_summary(console: Console, summary: dict) -> None:
    """Verdict first, then the key figures a planner asks for."""
    print_verdict(console, summary)
    intervals = (f"; means ({confidence_level(summary)} intervals)"
                 if summary["replications"] > 1 else "")
    table = Table(title=f"{summary['scenario']} — {summary['replications']} replication(s), "
                        f"seed {summary['seed']}{intervals}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    platform = summary["platform"]
    latency = summary["latency_ms"]
    rows = [
        ("Sessions", fmt(summary["sessions"])),
        ("Requests", fmt(summary["requests"])),
        ("Orders", fmt(summary["orders"])),
        ("GMV", fmt(summary["gmv"])),
        ("Lost sales (all causes)", fmt(summary["lost_sales"]["count"])),
        ("Lost sales value", fmt(summary["lost_sales"]["value"])),
        ("Error rate", fmt(summary["error_rate"], "pct")),
        ("Shed rate", fmt(summary["shed_rate"], "pct")),
        ("Latency p99, all endpoints", fmt(latency.get("all", {}).get("p99"), "ms")),
        *((f"Latency p99, {e}", fmt(latency[e]["p99"], "ms"))
          for e in ("checkout", "pay") if e in latency),
        ("Peak requests/s", fmt(platform["peak_requests_per_s"])),
        ("Peak utilization (per minute)", fmt(platform["peak_utilization"], "pct")),
        ("Peak instances", fmt(platform["peak_instances"])),
        ("Instance-hours", fmt(platform["instance_hours"], "float")),
    ]
    for sale in summary.get("flash_sales", []):
        rows.append((f"Flash sale {sale['name']!r} sold out at",
                     sale["sold_out_at"] or "not sold out"))
    support = summary.get("support")
    if support:
        rows += [("Support contacts", fmt(support["contacts"])),
                 ("Support service level", fmt(support["service_level"], "pct")),
                 ("Support abandoned", fmt(support["abandon_rate"], "pct"))]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def print_comparison(console: Console, document: dict) -> None:
    """Runs as columns (the first is the baseline), key figures as rows, deltas beneath."""
    runs = document["runs"]
    common = [part for part in runs[0]["plan"] if all(part in r["plan"] for r in runs)]
    shared = f"; every run: {' '.join(common)}" if common else ""
    table = Table(title=f"Compared with {document['baseline']}  (* significant at 5%{shared})")
    table.add_column("figure", style="bold")
    for run in runs:
        own = [part for part in run["plan"] if part not in common]
        table.add_column("\n".join([run["label"], *own]), justify="right")
    for row in document["rows"]:
        cells = []
        for cell in row["cells"]:
            text = cell["shown"]
            if cell.get("delta"):
                mark = " *" if cell["significant"] else ""
                text += f"\n{cell['delta']}{mark}"
            cells.append(text)
        table.add_row(row["label"], *cells)
    verdicts = ["met" if run["slo_met"] else f"not met ({len(run['breaches'])})"
                for run in runs]
    table.add_row("SLOs (breaches)", *verdicts)
    console.print(table)
