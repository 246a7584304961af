"""``peakday compare A B [C...]``: plans side by side, in the terminal and as an HTML page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import bad_input, console, flag


def compare(
    folders: Annotated[list[Path], typer.Argument(help="Results folders; the first is the "
                                                       "baseline.")],
    out: Annotated[Path | None, typer.Option(help="Folder for compare.html and compare.json "
                                                  "(default: results/compare-<time>).")] = None,
    as_json: Annotated[bool, flag("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare runs: key figures with deltas against the first, significance, SLO verdicts."""
    from ..report.compare_page import render_compare_html
    from ..report.console import print_comparison
    from ..results.compare_runs import compare as build
    from ..results.compare_runs import load_run
    from ..results.folders import (
        RESULTS,
        ResultsError,
        json_bytes,
        prepare_output,
        run_id,
        write_atomically,
    )

    if len(folders) < 2:
        raise bad_input(["compare: give two or more results folders (the first is the "
                         "baseline)"])
    directory = out or RESULTS / run_id("compare")
    try:
        runs = [load_run(folder) for folder in folders]
        prepare_output(directory)
    except ResultsError as exc:
        raise bad_input([str(exc)]) from None
    document = build(runs)
    try:
        write_atomically(directory, {"compare.json": json_bytes(document),
                                     "compare.html": render_compare_html(document)})
    except ResultsError as exc:
        raise bad_input([str(exc)]) from None
    if as_json:
        sys.stdout.write(json_bytes(document).decode())
        return
    print_comparison(console, document)
    console.print(f"\nPage: {directory / 'compare.html'}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(compare)
