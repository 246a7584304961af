"""The capacity report: figures (matplotlib), self-contained HTML (Jinja2).

:func:`render_report` turns a run's result files into the report's files; ``simulate``
writes them with the results in one atomic step, ``peakday report DIR`` re-renders them.
"""

from __future__ import annotations

from pathlib import Path

from ..results.folders import add_files
from .data import ReportData, from_files, from_folder, read
from .drill import render_drill_report
from .figures import all_figures
from .html import render_html

__all__ = ["render_drill_report", "render_report", "rerender", "write_report"]


def render_report(files: dict[str, bytes], where: str = "") -> dict[str, bytes]:
    """``report.html`` and one PNG per figure, from summary, timeseries and scenario."""
    return _capacity_report(from_files(files, where))


def _capacity_report(data: ReportData) -> dict[str, bytes]:
    figures = all_figures(data)
    report = {f"{figure.name}.png": figure.png for figure in figures}
    report["report.html"] = render_html(data, figures)
    return report


def rerender(directory: Path) -> Path:
    """Render the report of a results folder again (a simulation's or a drill's); the old
    report stays until the new one is whole."""
    directory = Path(directory)
    drill = directory / "drill.json"
    if drill.is_file() and not (directory / "summary.json").exists():
        comparison = directory / "comparison.json"
        outputs = render_drill_report(read(drill), str(drill),
                                      read(comparison) if comparison.is_file() else None)
    else:
        outputs = _capacity_report(from_folder(directory))
    write_report(directory, outputs)
    return directory / "report.html"


def write_report(directory: Path, outputs: dict[str, bytes]) -> None:
    """Each file replaced atomically, report.html last: readers see a whole report or none;
    a file of the same name that peakday did not write is never replaced."""
    add_files(directory, outputs)
