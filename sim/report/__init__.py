"""The capacity report: figures (matplotlib), self-contained HTML (Jinja2).

:func:`render_report` turns a run's result files into the report's files; ``simulate``
writes them with the results in one atomic step, ``peakday report DIR`` re-renders them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .data import from_files, from_folder
from .figures import all_figures
from .html import render_html

__all__ = ["render_report", "rerender"]


def render_report(files: dict[str, bytes], where: str = "") -> dict[str, bytes]:
    """``report.html`` and one PNG per figure, from summary, timeseries and scenario."""
    data = from_files(files, where)
    figures = all_figures(data)
    report = {f"{figure.name}.png": figure.png for figure in figures}
    report["report.html"] = render_html(data, figures)
    return report


def rerender(directory: Path) -> Path:
    """Render the report of a results folder again; the old one stays until the new is whole."""
    data = from_folder(directory)
    figures = all_figures(data)
    outputs = {f"{figure.name}.png": figure.png for figure in figures}
    outputs["report.html"] = render_html(data, figures)  # replaced last: a report or none
    for name, content in outputs.items():
        temporary = Path(directory) / f".{name}.tmp-{os.getpid()}"
        temporary.write_bytes(content)
        os.replace(temporary, Path(directory) / name)
    return Path(directory) / "report.html"
