"""The one ``peakday`` entry: a Typer app that each package fills with its own commands.

``sim`` registers the simulator's commands and ``loadtests`` the ones that need Locust or the
checkout service; this module is the only place that knows both, so ``sim`` never imports
``loadtests`` and the app has the same commands whatever was imported first. Command modules
import their heavy libraries (matplotlib, scipy, Locust, FastAPI) inside the command, so
``peakday --help`` and ``peakday validate`` start in a fraction of a second.
"""

from __future__ import annotations

import typer

import loadtests.cli
import sim.cli
from sim.cli.common import OverlayOption, SetOption, remember_scenario_options

__all__ = ["app"]

app = typer.Typer(
    help="peakday: simulate a promotion's peak day, size servers and staff, drill the checkout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(ctx: typer.Context, overrides: SetOption = None, overlays: OverlayOption = None) -> None:
    """Options given before the command apply to every scenario it reads."""
    remember_scenario_options(ctx, overrides, overlays)


sim.cli.register(app)
loadtests.cli.register(app)
