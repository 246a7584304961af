"""The ``peakday`` command with the load-test side added: ``serve`` (and ``drill``).

The simulator's commands live in :mod:`sim.cli`; this module adds the commands that need
the checkout service or Locust, so that ``sim`` never imports ``loadtests``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli import SetOption, app, console, load_or_exit, overrides_of

__all__ = ["app"]


@app.command()
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
    reset: Annotated[bool, typer.Option("--reset", help="Re-seed an existing database.")]
    = False,
    overrides: SetOption = None,
) -> None:
    """Run the reference checkout service (FastAPI + uvicorn, SQLite by default)."""
    from .target.service import ServiceConfig, run
    from .target.service import admin_token as pick_token

    load_or_exit(scenario, overrides_of(ctx, overrides))
    token = pick_token(admin_token)
    config = ServiceConfig(scenario=str(scenario), db=db, overrides=overrides_of(ctx, overrides),
                           stock_scale=stock_scale, admin_token=token,
                           reservation_ttl=reservation_ttl, reset=reset)
    console.print(f"peakday checkout on http://{host}:{port}/  (database {db})", markup=False)
    if admin_token is None:
        console.print(f"admin token: {token}", markup=False)
    run(config, host, port, workers)
