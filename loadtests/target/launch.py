"""Starting the checkout service as a child process on a free loopback port.

Used by ``peakday drill --self-test`` and by the tests: both need a real server, started and
stopped around a piece of work, and nothing left running afterwards. (:func:`serving` runs
it in a thread instead, for tests that look inside it.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVICE_HOST = "127.0.0.1"
"""Where a launched service listens: loopback only."""


def bearer(token: str) -> dict[bytes, bytes]:
    """The admin header for ``token``, as UTF-8 bytes (a token need not be ASCII)."""
    return {b"Authorization": f"Bearer {token}".encode()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((SERVICE_HOST, 0))
        return s.getsockname()[1]


@dataclass
class ServiceProcess:
    """A running `peakday serve` on 127.0.0.1; its stderr goes to ``log`` (a pipe nobody
    reads would fill up and stall the server)."""

    url: str
    db: str
    token: str
    process: subprocess.Popen
    args: list[str]
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def admin(self) -> dict[bytes, bytes]:
        return bearer(self.token)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=15)

    def restart(self) -> None:
        self.stop()
        self.process = _spawn(self.args, self.log)
        _wait_healthy(self.url, self.process, self.log)


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as sink:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=sink)


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the checkout service exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the checkout service did not become healthy in 30 s")


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` (the checkout's ASGI app) under uvicorn in a thread of this process, on a free
    loopback port, with the served settings; yields its URL. For tests that need the
    service's own objects (its store, its gateway) beside real HTTP."""
    import uvicorn

    from .protocol import server_options

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=SERVICE_HOST, port=port,
                                           log_level="warning", **server_options()))
    thread = threading.Thread(target=server.run, name="checkout", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the checkout service did not start")
        time.sleep(0.02)
    try:
        yield f"http://{SERVICE_HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def start_service(db: str, scenario: Path, *extra: str, log: Path,
                  token: str = "peakday-local") -> ServiceProcess:
    """Start the checkout service on a free loopback port with its database at `db`,
    writing its stderr to `log`."""
    port = free_port()
    args = [sys.executable, "-m", "peakday", "serve", "--scenario", str(scenario),
            "--db", db, "--port", str(port), "--admin-token", token, *extra]
    process = _spawn(args, log)
    url = f"http://{SERVICE_HOST}:{port}"
    _wait_healthy(url, process, log)
    return ServiceProcess(url, db, token, process, args, log)
