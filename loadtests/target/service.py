"""Building and running the reference checkout: scenario -> seeded database -> uvicorn.

The catalog and flash-sale SKUs come from a scenario (stock scaled by ``stock_scale``, as a
drill scales traffic); sharding follows ``inventory.strategy``; the reservation TTL and the
payment channels follow the scenario too. A database that already holds a catalog is kept
as it is (a restart after a crash finds every paid order), unless ``reset`` is asked for.

Several uvicorn workers are separate processes: they get the configuration through the
``PEAKDAY_SERVICE`` environment variable and :func:`app_from_env`.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastapi import FastAPI

from sim.behaviour.scaling import scaled_stock
from sim.scenario import Scenario, load_scenario

from .. import collector
from .app import Service, create_app
from .gateway import Gateway
from .store import SkuSeed, Store, dialect_for

ENV = "PEAKDAY_SERVICE"
TOKEN_ENV = "PEAKDAY_ADMIN_TOKEN"
DEFAULT_DB = "sqlite:///results/checkout-service/checkout.db"


@dataclass
class ServiceConfig:
    scenario: str
    db: str = DEFAULT_DB
    overrides: list[str] = field(default_factory=list)
    overlays: list[str] = field(default_factory=list)
    stock_scale: float = 1.0
    admin_token: str = ""
    reservation_ttl: float | None = None
    """Seconds; default: the scenario's ``inventory.reservation_ttl``."""
    reset: bool = False
    seed: int = 0


def seeds_of(scenario: Scenario, stock_scale: float) -> list[SkuSeed]:
    """Catalog and flash-sale SKUs with their stock scaled as the model's prediction is."""

    def scaled(stock: int) -> int:
        return scaled_stock(stock, stock_scale)

    seeds = []
    if scenario.catalog is not None:
        seeds += [SkuSeed(s.id, scaled(s.stock), s.price, scenario.catalog.per_user_limit)
                  for s in scenario.catalog.skus]
    if scenario.promotions is not None:
        seeds += [SkuSeed(f.sku.id, scaled(f.sku.stock), f.sku.price, f.per_user_limit)
                  for f in scenario.promotions.flash_sales]
    return seeds


def build_service(config: ServiceConfig) -> Service:
    scenario = load_scenario(config.scenario, config.overrides, config.overlays)
    shards = scenario.inventory.shards if scenario.inventory.strategy == "sharded" else 1
    ttl = config.reservation_ttl or scenario.inventory.reservation_ttl
    store = Store(dialect_for(config.db))
    return Service(store=store, gateway=Gateway(scenario.payments, config.seed),
                   admin_token=config.admin_token, seeds=seeds_of(scenario, config.stock_scale),
                   shards=shards, ttl=ttl, name=f"peakday checkout ({scenario.name})",
                   sweep_every=min(1.0, ttl / 4))


def prepare(config: ServiceConfig) -> Service:
    """Create or reuse the database (run once, before any worker starts)."""
    service = build_service(config)
    store = service.store
    store.create()
    if config.reset or not store.stock():
        store.seed(service.seeds, service.shards, service.ttl)
    else:
        store.recover()
    store.close()
    return service


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process; the cycle collector tuned once the app is
    built (collector.py)."""
    config = ServiceConfig(**json.loads(os.environ[ENV]))
    app = create_app(build_service(config))
    collector.tune()
    return app


def admin_token(given: str | None) -> str:
    return given or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(16)


def run(config: ServiceConfig, host: str, port: int, workers: int) -> None:
    """Serve until interrupted."""
    import uvicorn

    from .protocol import server_options

    prepare(config)
    os.environ[ENV] = json.dumps(asdict(config))
    if config.db.startswith("sqlite:///"):
        Path(config.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    uvicorn.run("loadtests.target.service:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False, **server_options())
