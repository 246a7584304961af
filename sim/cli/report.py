"""``peakday report``: render a results folder's report again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import bad_input, console, no_scenario_options


def report(ctx: typer.Context,
           directory: Annotated[Path, typer.Argument(help="A results folder.")]) -> None:
    """Render the HTML report (and its PNG figures) of a results folder again."""
    no_scenario_options(ctx, "report")
    from ..report import rerender
    from ..results.folders import ResultsError

    try:
        path = rerender(directory)
    except ResultsError as exc:
        raise bad_input([str(exc)]) from None
    console.print(f"Report: {path}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(report)
