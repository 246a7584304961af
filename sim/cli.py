"""The ``peakday`` command: parse, call the library, render. Nothing else lives here.

Exit status: 0 success, 1 a run that completed but failed its SLOs or thresholds, 2 bad input
(scenario errors, unreadable folders, unsafe targets). Scenario errors print one
``FILE:LINE: path: message`` line each, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .scenario import Scenario, ScenarioError, load_scenario

app = typer.Typer(
    help="peakday: simulate a promotion's peak day, size servers and staff, drill the checkout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

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


def _overrides(ctx: typer.Context, local: list[str] | None) -> list[str]:
    return [*(ctx.obj or {}).get("overrides", []), *(local or [])]


def _bad_input(lines: list[str]) -> typer.Exit:
    for line in lines:
        err.print(line, markup=False)
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
            scenario = load_scenario(path, _overrides(ctx, overrides))
        except ScenarioError as exc:
            problems.extend(exc.errors)
            continue
        out.print(f"{path}: ok ({scenario.name})", markup=False)
    if problems:
        raise _bad_input(problems)


@app.command()
def schema() -> None:
    """Print the scenario's JSON Schema (for editor completion and external checks)."""
    document = Scenario.model_json_schema(by_alias=True, mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "peakday scenario"
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
