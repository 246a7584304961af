"""Shared fixtures: paths to the shipped scenarios and a CLI runner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml")) + sorted((SCENARIOS / "textbook").glob("*.yaml"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@dataclass
class RunningService:
    """A real `peakday serve` process on a loopback port."""

    url: str
    db: str
    token: str
    process: subprocess.Popen
    args: list[str]

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=15)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.process = _spawn(self.args)
        _wait_healthy(self.url, self.process)


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=ROOT)


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("service did not become healthy")


def start_service(db: str, scenario: Path, *extra: str) -> RunningService:
    """Start the checkout service on a free loopback port with the database at `db`."""
    port = free_port()
    token = "test-token"
    args = [sys.executable, "-m", "loadtests", "serve", "--scenario", str(scenario),
            "--db", db, "--port", str(port), "--admin-token", token, *extra]
    process = _spawn(args)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    return RunningService(url, db, token, process, args)
