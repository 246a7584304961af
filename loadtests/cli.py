"""The load-test side's commands, ``serve`` and ``drill``, registered by :func:`register`.

The simulator's commands live in :mod:`sim.cli`; ``peakday.cli`` composes both, so that
``sim`` never imports ``loadtests``. Locust, FastAPI and uvicorn are imported inside the
commands: ``peakday --help`` does not pay for them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sim.cli.common import (
    ForceOption,
    OverlayOption,
    SeedOption,
    SetOption,
    console,
    flag,
    load_or_exit,
    overlays_of,
    overrides_of,
    seed_or_exit,
)
from sim.results.folders import RESULTS, run_id

__all__ = ["register"]


AllowHostOption = Annotated[list[str] | None, typer.Option(
    metavar="HOST", help="Allow this target host besides drill.allowed_hosts (repeatable).")]
"""Shared by every command that sends load (drill, calibrate): one spelling, one help."""
NoPinOption = Annotated[bool, flag(
    "--no-pin", help="--self-test: leave the service and the load generator to the scheduler "
                     "(default: each on cores of its own when there are enough).")]
"""Shared by the commands with a self-test (drill, calibrate)."""


def serve(
    ctx: typer.Context,
    scenario: Annotated[Path, typer.Option(help="Scenario whose catalog and flash sales to sell.")]
    = Path("scenarios/flash-sale.yaml"),
    db: Annotated[str, typer.Option(help="sqlite:///path.db (default) or postgresql://...")]
    = "sqlite:///results/checkout-service/checkout.db",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    stock_scale: Annotated[float, typer.Option(min=0.0, help="Multiply every SKU's stock.")]
    = 1.0,
    reservation_ttl: Annotated[float | None, typer.Option(
        min=0.1, help="Seconds an unpaid reservation holds stock (default: the scenario's).")]
    = None,
    admin_token: Annotated[str | None, typer.Option(
        help="Bearer token for /admin (default: $PEAKDAY_ADMIN_TOKEN, else a random one).")]
    = None,
    reset: Annotated[bool, flag("--reset", help="Re-seed an existing database.")]
    = False,
    overrides: SetOption = None,
    overlays: OverlayOption = None,
) -> None:
    """Run the reference checkout service (FastAPI + uvicorn, SQLite by default)."""
    from .target.service import ServiceConfig, run
    from .target.service import admin_token as pick_token

    load_or_exit(ctx, scenario, overrides, overlays)
    token = pick_token(admin_token)
    config = ServiceConfig(scenario=str(scenario), db=db, overrides=overrides_of(ctx, overrides),
                           overlays=[str(o) for o in overlays_of(ctx, overlays)],
                           stock_scale=stock_scale, admin_token=token,
                           reservation_ttl=reservation_ttl, reset=reset)
    console.print(f"peakday checkout on http://{host}:{port}/  (database {db})", markup=False)
    if admin_token is None:
        console.print(f"admin token: {token}", markup=False)
    run(config, host, port, workers)


def drill(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Scenario file (its drill section).")],
    target: Annotated[str | None, typer.Option(help="Base URL of the checkout to drill.")]
    = None,
    self_test: Annotated[bool, flag(
        "--self-test", help="Start the reference checkout on a free loopback port, drill it, "
                            "stop it (stock scaled by drill.scale).")] = False,
    allow_host: AllowHostOption = None,
    workers: Annotated[int, typer.Option(min=0, help="Local Locust worker processes under "
                                                     "one master (0: a single process).")] = 0,
    master: Annotated[bool, flag(
        "--master", help="Be the master for workers on other machines (--expect-workers).")]
    = False,
    expect_workers: Annotated[int, typer.Option(min=0, help="Workers a --master waits for.")]
    = 0,
    worker: Annotated[bool, flag(
        "--worker", help="Be a worker of a master on --master-host (same scenario file).")]
    = False,
    master_host: Annotated[str, typer.Option(help="The master's address (--worker).")]
    = "127.0.0.1",
    master_port: Annotated[int, typer.Option(help="The master's port.")] = 5557,
    seed: SeedOption = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<id>).")]
    = None,
    force: ForceOption = False,
    overrides: SetOption = None,
    overlays: OverlayOption = None,
    quiet: Annotated[bool, flag("--quiet", "-q", help="Print only the results path.")] = False,
    as_json: Annotated[bool, flag("--json", help="Print drill.json to stdout.")] = False,
    no_pin: NoPinOption = False,
) -> None:
    """Replay the scenario's drill window with Locust against real checkout endpoints.

    Exit 0 when every threshold passes, 1 when one fails (or the drill aborted), 2 on bad
    input or a refused target.
    """
    from .drill_launch import DrillOptions, launch_drill

    seed_or_exit(seed)
    scenario = load_or_exit(ctx, file, overrides, overlays)
    directory = out or RESULTS / run_id(f"{scenario.name}-drill")
    muted = quiet or as_json
    options = DrillOptions(
        file=file, overrides=overrides_of(ctx, overrides), overlays=overlays_of(ctx, overlays),
        target=target, self_test=self_test, allow_hosts=list(allow_host or []),
        workers=workers, master=master, expect_workers=expect_workers, worker=worker,
        master_host=master_host, master_port=master_port, seed=seed, out=directory,
        force=force, pin=not no_pin)
    status = launch_drill(scenario, options, Console(file=io.StringIO()) if muted else console)
    results = directory / "drill.json"
    if muted and status in (0, 1) and results.is_file():  # a refused run wrote nothing
        if as_json:
            sys.stdout.write(results.read_text())
        else:
            console.print(str(directory), markup=False)
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Add serve, drill and calibrate to ``app``."""
    from .calibrate import cli as calibrate

    app.command()(serve)
    app.command()(drill)
    calibrate.register(app)
