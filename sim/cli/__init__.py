"""The simulator's commands, registered on the ``peakday`` app by :func:`register`.

Each command lives in a module of its own and imports what it needs when it runs; the
modules here import only Typer and the light common helpers.
"""

from __future__ import annotations

import typer

from ..sizing import cli as size
from . import compare, init, report, scenario, simulate

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add init, validate, schema, simulate, size, report and compare to ``app``."""
    init.register(app)
    scenario.register(app)
    simulate.register(app)
    size.register(app)
    report.register(app)
    compare.register(app)
