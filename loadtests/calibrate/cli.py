"""``peakday calibrate``: registered on the app by :func:`register`; Locust and the fit are
imported when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loadtests.cli import AllowHostOption, NoPinOption
from sim.cli.common import (
    OverlayOption,
    SetOption,
    console,
    flag,
    load_or_exit,
    overlays_of,
    overrides_of,
)


def calibrate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Scenario file (its journeys, drill caps, "
                                              "allow-list and abort rule).")],
    out: Annotated[Path, typer.Option(help="Results folder for calibration.yaml/.json/.png.")],
    target: Annotated[str | None, typer.Option(help="Base URL of the checkout to measure.")]
    = None,
    self_test: Annotated[bool, flag(
        "--self-test", help="Start the reference checkout on a free loopback port, measure "
                            "it, stop it.")] = False,
    allow_host: AllowHostOption = None,
    first_rate: Annotated[float, typer.Option(
        min=0.1, help="Requests per second of the first, lightest step.")] = 10.0,
    step: Annotated[float, typer.Option(
        min=1.0, help="Seconds per step (long enough for a stable p95 at the first rate).")]
    = 20.0,
    max_steps: Annotated[int, typer.Option(min=2, max=12, help="Steps at most.")] = 8,
    probes: Annotated[bool, flag(
        "--probes", help="After the ramp, one saturated step per other mix of endpoints "
                         "(what each endpoint costs).")] = False,
    refit: Annotated[Path | None, typer.Option(
        help="Fit again the steps a calibration folder measured (sends no load).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).")] = None,
    quiet: Annotated[bool, flag("--quiet", help="Print nothing on success.")] = False,
    as_json: Annotated[bool, flag("--json", help="Print the fit as JSON.")] = False,
    overrides: SetOption = None,
    overlays: OverlayOption = None,
    no_pin: NoPinOption = False,
) -> None:
    """Measure a checkout with a short step load and fit a model of it: per-endpoint service
    demands, effective concurrency, time outside the server.

    Writes OUT/calibration.yaml (an overlay for --overlay on every command), calibration.json
    (the fit and its residuals per step) and calibration.png. Exit 0 done, 2 bad input, a
    refused target, or a target that fails under load.
    """
    from .launch import Request, launch_calibration
    from .profile import Profile

    scenario = load_or_exit(ctx, file, overrides, overlays)
    ask = Request(scenario=scenario, file=file, overrides=overrides_of(ctx, overrides),
                  overlays=overlays_of(ctx, overlays), target=target, self_test=self_test,
                  allow_hosts=list(allow_host or []), out=out,
                  profile=Profile(first_rate, step, max_steps, probes), seed=seed, refit=refit,
                  quiet=quiet, as_json=as_json, pin=not no_pin)
    raise typer.Exit(launch_calibration(ask, console))


def register(app: typer.Typer) -> None:
    """Add calibrate to ``app``."""
    app.command()(calibrate)
