"""``peakday validate`` and ``peakday schema``: the scenario language on its own, no model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import OverlayOption, SetOption, bad_input, console, overlays_of, overrides_of


def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    overrides: SetOption = None,
    overlays: OverlayOption = None,
) -> None:
    """Check scenario files; print every problem as FILE:LINE: path: message (exit 2)."""
    from ..scenario import ScenarioError, load_scenario

    problems: list[str] = []
    for path in files:
        try:
            scenario = load_scenario(path, overrides_of(ctx, overrides),
                                     overlays_of(ctx, overlays))
        except ScenarioError as exc:
            problems.extend(exc.errors)
            continue
        console.print(f"{path}: ok ({scenario.name})", markup=False)
    if problems:
        raise bad_input(problems)


def schema() -> None:
    """Print the scenario's JSON Schema (for editor completion and external checks)."""
    from ..scenario import Scenario

    document = Scenario.model_json_schema(by_alias=True, mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "peakday scenario"
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
