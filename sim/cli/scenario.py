"""``peakday validate`` and ``peakday schema``: the scenario language on its own, no model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    OverlayOption,
    SetOption,
    bad_input,
    console,
    err_console,
    flag,
    no_scenario_options,
    overlays_of,
    overrides_of,
)


def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    overrides: SetOption = None,
    overlays: OverlayOption = None,
    as_json: Annotated[bool, flag("--json", help="Print one JSON object per file (file, ok, "
                                                 "scenario, errors) as a list.")] = False,
) -> None:
    """Check scenario files; print every problem as FILE:LINE: path: message (exit 2)."""
    from ..scenario import ScenarioError, load_scenario
    from ..scenario.checks import override_warnings

    problems: list[str] = []
    checked: list[dict] = []
    for path in files:
        try:
            scenario = load_scenario(path, overrides_of(ctx, overrides),
                                     overlays_of(ctx, overlays))
        except ScenarioError as exc:
            problems.extend(exc.errors)
            checked.append({"file": str(path), "ok": False, "scenario": None,
                            "errors": exc.errors})
            continue
        checked.append({"file": str(path), "ok": True, "scenario": scenario.name, "errors": []})
        for warning in override_warnings(scenario, overrides_of(ctx, overrides)):
            err_console.print(f"warning: {warning}", markup=False)
        if not as_json:
            console.print(f"{path}: ok ({scenario.name})", markup=False)
    if as_json:
        sys.stdout.write(json.dumps(checked, indent=2, ensure_ascii=False) + "\n")
        if problems:
            raise typer.Exit(2)
    elif problems:
        raise bad_input(problems)


def schema(ctx: typer.Context) -> None:
    """Print the scenario's JSON Schema (for editor completion and external checks)."""
    no_scenario_options(ctx, "schema")
    from ..scenario.json_schema import scenario_json_schema

    document = scenario_json_schema()
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
