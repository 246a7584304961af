"""Shared fixtures: paths to the shipped scenarios and a CLI runner."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
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


@dataclass
class RunningService:
    """A real `peakday serve` process on a loopback port."""

    url: str
    db: Path
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


def start_service(directory: Path, scenario: Path, *extra: str) -> RunningService:
    """Start the checkout service on a free loopback port with its database in `directory`."""
    port = free_port()
    db = directory / "checkout.db"
    token = "test-token"
    args = [sys.executable, "-m", "loadtests", "serve", "--scenario", str(scenario),
            "--db", f"sqlite:///{db}", "--port", str(port), "--admin-token", token, *extra]
    process = _spawn(args)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    return RunningService(url, db, token, process, args)
