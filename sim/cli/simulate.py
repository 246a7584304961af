"""``peakday simulate``: run the model, write the results and the report, print the verdict."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    ExecutorKind,
    ExecutorOption,
    ForceOption,
    OverlayOption,
    SchedulerOption,
    SeedOption,
    SetOption,
    bad_input,
    console,
    err_console,
    flag,
    load_or_exit,
    output_or_exit,
    overlays_of,
    overrides_of,
    seed_or_exit,
)


def simulate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Scenario file.")],
    seed: SeedOption = None,
    replications: Annotated[int | None, typer.Option(
        min=1, help="Independent replications (default: the scenario's sizing.replications "
                    "when it sets one, else 1).")] = None,
    jobs: Annotated[int | None, typer.Option(
        min=1, help="Processes (default: all cores, or one per replication up to four per "
                    "core).")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<run-id>).")]
    = None,
    check: Annotated[bool, flag("--check", help="Exit 1 when an SLO is not met.")] = False,
    quiet: Annotated[bool, flag("--quiet", "-q", help="Print only the results path.")] = False,
    as_json: Annotated[bool, flag("--json", help="Print summary.json to stdout.")] = False,
    executor: ExecutorOption = ExecutorKind.local,
    scheduler: SchedulerOption = None,
    force: ForceOption = False,
    no_limit: Annotated[bool, flag(
        "--no-limit", help="Run even when the estimate is over the limits (more memory than "
                           "is available, or over 10^9 requests).")] = False,
    overrides: SetOption = None,
    overlays: OverlayOption = None,
) -> None:
    """Run the peak-day model; write summary.json and timeseries.csv; print a summary."""
    from ..estimate import estimate, over_limits
    from ..executors import ExecutorError, default_jobs, open_executor
    from ..report import render_report
    from ..report.console import print_summary, run_progress
    from ..results.folders import (
        RESULTS,
        ResultsError,
        csv_bytes,
        json_bytes,
        run_id,
        write_atomically,
    )
    from ..results.summary import build_series, build_summary
    from ..run import run

    seed_or_exit(seed)
    scenario = load_or_exit(ctx, file, overrides, overlays)
    if replications is None:
        sizing = scenario.sizing
        replications = sizing.replications if "replications" in sizing.model_fields_set else 1
    jobs = jobs or default_jobs(replications)
    cost = estimate(scenario, replications, jobs)
    if (limits := over_limits(cost)) and not no_limit:
        raise bad_input([f"refused: {cost.describe()}: {' and '.join(limits)} (--no-limit "
                         "runs it anyway)"])
    directory = output_or_exit(out or RESULTS / run_id(scenario.name), force)
    # The local executor is run()'s own process pool (progress per simulated minute); a Dask
    # cluster is reached before anything is printed, so a refusal stays one line.
    cluster = (open_executor("dask", jobs, scheduler) if executor == ExecutorKind.dask
               else contextlib.nullcontext(None))
    try:
        with cluster as runner:
            if not (quiet or as_json):
                err_console.print(f"Estimate: {cost.describe()}", markup=False)
            with run_progress(scenario, replications,
                              enabled=not (quiet or as_json)) as progress:
                result = run(scenario, replications=replications, seed=seed, jobs=jobs,
                             progress=progress, executor=runner)
    except ExecutorError as exc:
        raise bad_input([str(exc)]) from None
    summary = build_summary(result, {"overlays": [str(p) for p in overlays_of(ctx, overlays)],
                                     "set": overrides_of(ctx, overrides)})
    header, rows = build_series(result)
    files = {
        "summary.json": json_bytes(summary),
        "timeseries.csv": csv_bytes(header, rows),
        "scenario.json": json_bytes(scenario.model_dump(mode="json", by_alias=True)),
    }
    try:
        write_atomically(directory, {**files, **render_report(files)})
    except ResultsError as exc:
        raise bad_input([str(exc)]) from None
    if as_json:
        sys.stdout.write(json_bytes(summary).decode())
    elif quiet:
        console.print(str(directory), markup=False)
    else:
        print_summary(console, summary)
        console.print(f"\nResults: {directory}/  (report: {directory / 'report.html'})",
                      markup=False)
    if check and not summary["slo"]["met"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(simulate)
