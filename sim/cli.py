"""The ``peakday`` command: parse, call the library, render. Nothing else lives here.

Exit status: 0 success; 1 a run that completed but failed its SLOs (``simulate --check``);
2 bad input (scenario errors, unwritable or unreadable folders). Scenario errors print one
``FILE:LINE: path: message`` line each, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .console import print_summary, run_progress
from .report import render_report, rerender
from .results import (
    RESULTS,
    ResultsError,
    check_writable,
    csv_bytes,
    json_bytes,
    run_id,
    write_atomically,
)
from .run import run
from .scenario import Scenario, ScenarioError, load_scenario
from .summary import build_series, build_summary

app = typer.Typer(
    help="peakday: simulate a promotion's peak day, size servers and staff, drill the checkout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
console = Console(highlight=False, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="PATH=VALUE",
                 help="Override a scenario value before validation, e.g. platform.instances=32 "
                      "(repeatable)."),
]


@app.callback()
def main(ctx: typer.Context, overrides: SetOption = None) -> None:
    """Options given before the command apply to every scenario it reads."""
    ctx.obj = {"overrides": list(overrides or [])}


def overrides_of(ctx: typer.Context, local: list[str] | None) -> list[str]:
    return [*(ctx.obj or {}).get("overrides", []), *(local or [])]


def _bad_input(lines: list[str]) -> typer.Exit:
    for line in lines:
        err_console.print(line, markup=False)
    return typer.Exit(2)


def load_or_exit(path: Path, overrides: list[str]) -> Scenario:
    """The validated scenario, or the errors printed and exit status 2."""
    try:
        return load_scenario(path, overrides)
    except ScenarioError as exc:
        raise _bad_input(exc.errors) from None


@app.command()
def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    overrides: SetOption = None,
) -> None:
    """Check scenario files; print every problem as FILE:LINE: path: message (exit 2)."""
    problems: list[str] = []
    for path in files:
        try:
            scenario = load_scenario(path, overrides_of(ctx, overrides))
        except ScenarioError as exc:
            problems.extend(exc.errors)
            continue
        console.print(f"{path}: ok ({scenario.name})", markup=False)
    if problems:
        raise _bad_input(problems)


@app.command()
def schema() -> None:
    """Print the scenario's JSON Schema (for editor completion and external checks)."""
    document = Scenario.model_json_schema(by_alias=True, mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "peakday scenario"
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command()
def simulate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Scenario file.")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).")] = None,
    replications: Annotated[int, typer.Option(min=1, help="Independent replications.")] = 1,
    jobs: Annotated[int | None, typer.Option(min=1, help="Processes (default: all cores).")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<run-id>).")]
    = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when an SLO is not met.")]
    = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the results path.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json to stdout.")]
    = False,
    overrides: SetOption = None,
) -> None:
    """Run the peak-day model; write summary.json and timeseries.csv; print a summary."""
    scenario = load_or_exit(file, overrides_of(ctx, overrides))
    directory = out or RESULTS / run_id(scenario.name)
    try:
        check_writable(directory)
    except ResultsError as exc:
        raise _bad_input([str(exc)]) from None
    with run_progress(scenario, replications, enabled=not (quiet or as_json)) as progress:
        result = run(scenario, replications=replications, seed=seed, jobs=jobs,
                     progress=progress)
    summary = build_summary(result)
    header, rows = build_series(result)
    files = {
        "summary.json": json_bytes(summary),
        "timeseries.csv": csv_bytes(header, rows),
        "scenario.json": json_bytes(scenario.model_dump(mode="json", by_alias=True)),
    }
    try:
        write_atomically(directory, {**files, **render_report(files)})
    except ResultsError as exc:
        raise _bad_input([str(exc)]) from None
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


@app.command()
def report(directory: Annotated[Path, typer.Argument(help="A results folder.")]) -> None:
    """Render the HTML report (and its PNG figures) of a results folder again."""
    try:
        path = rerender(directory)
    except ResultsError as exc:
        raise _bad_input([str(exc)]) from None
    console.print(f"Report: {path}", markup=False)
