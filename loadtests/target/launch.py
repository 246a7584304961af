"""Starting the checkout service as a child process on a free loopback port.

Used by ``peakday drill --self-test`` and by the tests: both need a real server, started and
stopped around a piece of work, and nothing left running afterwards.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServiceProcess:
    """A running `peakday serve` on 127.0.0.1."""

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
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the checkout service exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the checkout service did not become healthy in 30 s")


def start_service(db: str, scenario: Path, *extra: str, token: str = "peakday-local"
                  ) -> ServiceProcess:
    """Start the checkout service on a free loopback port with its database at `db`."""
    port = free_port()
    args = [sys.executable, "-m", "loadtests", "serve", "--scenario", str(scenario),
            "--db", db, "--port", str(port), "--admin-token", token, *extra]
    process = _spawn(args)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    return ServiceProcess(url, db, token, process, args)
