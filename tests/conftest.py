"""Shared fixtures: paths to the shipped scenarios and a CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadtests.target import launch
from loadtests.target.launch import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
CHECKOUT_SHOP = ROOT / "tests" / "data" / "checkout.yaml"
"""The small shop the checkout service's own tests serve."""
SHIPPED = sorted(SCENARIOS.glob("*.yaml")) + sorted((SCENARIOS / "textbook").glob("*.yaml"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


POSTGRES_ENV = "PEAKDAY_TEST_POSTGRES"
"""A PostgreSQL URL whose role may create databases; .ci/run starts one and sets it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[str]:
    """A fresh database URL: SQLite always; PostgreSQL when one is available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'checkout.db'}"
        return
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user:pw@host/db "
                    "(.ci/run starts Debian's postgresql and sets it)")
    import psycopg

    name = f"peakday_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def open_store(url: str):
    from loadtests.target.store import Store, dialect_for

    return Store(dialect_for(url))


def start_service(db: str, scenario: Path, *extra: str, log: Path) -> ServiceProcess:
    """The checkout service on a free loopback port, admin token "test-token"."""
    return launch.start_service(db, scenario, *extra, log=log, token="test-token")
