"""What a drill will never do: send to a host off its allow-list, whatever the target,
its redirects or a Locust master say. Real servers on loopback, real Locust runs, bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from loadtests.safety import AllowList, UnsafeTarget, check_target
from loadtests.target.launch import free_port
from peakday.cli import app

from .conftest import ROOT, SCENARIOS

FLASH = SCENARIOS / "flash-sale.yaml"
BRIEF = ["drill.window=[\"19:59:00\",\"19:59:30\"]", "drill.compress=5", "drill.scale=0.05",
         "drill.max_duration=12s", "drill.graceful_stop=1s", "drill.abort.for=10s"]
"""Thirty scenario seconds before the sale, about 90 visits in six real seconds (plus the
three the user pool takes to start), capped at twelve."""
OFF_LIST = "127.0.0.2"
"""Loopback too (all of 127/8 is), but not on the allow-list of these drills."""


@dataclass
class Listener:
    """A loopback HTTP server that counts what reaches it and answers ``reply``."""

    host: str
    status: int = 200
    location: str | None = None
    hits: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Connections Locust drops when it stops are no news."""


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            listener.hits.append((self.command, self.path))
            body = b"{}"
            self.send_response(listener.status)
            if listener.location:
                self.send_header("Location", listener.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = answer

        def log_message(self, *_args) -> None:
            pass

    server = Quiet((listener.host, 0), Handler)
    listener.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def redirect_trap(status: int = 302) -> Iterator[tuple[Listener, Listener]]:
    """A target on 127.0.0.1 answering every request with a redirect to a counting listener
    on 127.0.0.2 (off the allow-list)."""
    with listening(Listener(OFF_LIST)) as trap, \
            listening(Listener("127.0.0.1", status, f"{trap.url}/")) as target:
        yield target, trap


def sets(*pairs: str) -> list[str]:
    return [x for pair in pairs for x in ("--set", pair)]


# -- the allow-list rule --------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://127.0.0.1:notaport", "http://127.0.0.1:0",
                                 "http://127.0.0.1:70000", "http://", "127.0.0.1:8080",
                                 "ftp://127.0.0.1", "http://127.0.0.1:8080/api"])
def test_malformed_targets_are_refused(url):
    with pytest.raises(UnsafeTarget) as refused:
        check_target(url, AllowList(["127.0.0.1"]))
    assert refused.value.host is None, "a malformed URL is not an allow-list matter"


@pytest.mark.parametrize("url", ["http://0x7f000001/", "http://2130706433/", "http://127.1/",
                                 "http://[::ffff:127.0.0.1]/", "http://localhost./",
                                 "http://127.0.0.2:80/x", "not a url"])
def test_redirect_hops_only_to_hosts_spelled_as_listed(url):
    allowed = AllowList(["127.0.0.1", "localhost", "::1"])
    assert not allowed.admits(url)
    assert allowed.admits("http://LOCALHOST:9/x?y") and allowed.admits("https://[::1]/")


def test_a_malformed_target_exits_2_before_anything_starts(runner, tmp_path):
    result = runner.invoke(app, ["drill", str(FLASH), "--target", "http://127.0.0.1:notaport",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "port is not a number" in lines[0], result.output
    assert not (tmp_path / "run").exists(), "no results folder: nothing ran"


# -- redirects -------------------------------------------------------------------------------

def load(hits: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The drill's requests among a target's hits: not the reads of its /metrics around the
    load (drill_launch.py; not followed either when they are answered with a redirect)."""
    return [hit for hit in hits if hit[1] != "/metrics"]


def test_a_drill_does_not_follow_a_redirect_off_the_list(runner, tmp_path):
    with redirect_trap() as (target, trap):
        result = runner.invoke(app, ["drill", str(FLASH), "--target", target.url, "--out",
                                     str(tmp_path / "run"),
                                     *sets(*BRIEF, 'drill.allowed_hosts=["127.0.0.1"]')])
    assert trap.hits == [], "nothing may reach the host behind the redirect"
    sent = load(target.hits)
    assert len(sent) > 20, "the drill did load its target"
    report = json.loads((tmp_path / "run" / "drill.json").read_text())
    assert report["redirects"] == {"follow": False, "not_followed": {trap.url: len(sent)}}
    outcomes = report["endpoints"]["home"]["outcomes"]
    assert outcomes["redirect"] == report["endpoints"]["home"]["requests"]
    assert report["errors"] == len(sent) and not report["passed"]
    assert result.exit_code == 1, result.output
    assert f"answers were redirects to {trap.url}" in result.output


def test_an_opted_in_redirect_is_followed_only_to_listed_hosts(runner, tmp_path):
    """The same trap twice with drill.follow_redirects: off the list no hop is sent; with
    127.0.0.2 allowed on the command line, the hops arrive (so the first result means it)."""
    reports = {}
    for name, extra in (("refused", []), ("allowed", ["--allow-host", OFF_LIST])):
        with redirect_trap(307) as (target, trap):
            runner.invoke(app, ["drill", str(FLASH), "--target", target.url, *extra,
                                "--out", str(tmp_path / name),
                                *sets(*BRIEF, "drill.follow_redirects=true",
                                      'drill.allowed_hosts=["127.0.0.1"]')])
        reports[name] = (json.loads((tmp_path / name / "drill.json").read_text()),
                         load(target.hits), list(trap.hits), trap.url)
    refused, sent, reached, url = reports["refused"]
    assert reached == [] and len(sent) > 20
    assert refused["redirects"]["not_followed"] == {url: len(sent)}
    assert refused["endpoints"]["home"]["outcomes"]["redirect_refused"] > 0
    allowed, sent, reached, _ = reports["allowed"]
    # Every hop to an allowed host is followed; the drill's end may cut the last few between
    # the 307 and its hop (more of them on a loaded machine), never add any.
    assert 20 < len(reached) <= len(sent)
    assert allowed["endpoints"]["home"]["outcomes"].get("redirect_refused", 0) == 0
    assert {method for method, _ in reached} >= {"GET", "POST"}, "307 keeps the method"
    assert allowed["redirects"]["not_followed"] == {}


def locust(host: str, *sets_: str, seconds: int = 6) -> subprocess.CompletedProcess:
    """Plain ``locust -f loadtests/locustfile.py`` with the flash-sale drill, headless."""
    env = {**os.environ, "PEAKDAY_SCENARIO": str(FLASH), "PEAKDAY_SET": ";".join(sets_)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", "loadtests/locustfile.py",
         "--headless", "--host", host, "--run-time", f"{seconds}s", "--only-summary",
         "--loglevel", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_plain_locust_does_not_follow_a_redirect_off_the_list():
    with redirect_trap() as (target, trap):
        run = locust(target.url, *BRIEF, 'drill.allowed_hosts=["127.0.0.1"]')
    assert trap.hits == []
    assert len(target.hits) > 20, run.stderr[-2000:]
    assert "not followed" in run.stderr + run.stdout, "Locust's failures say why"


def test_plain_locust_refuses_a_host_off_the_list_and_says_why():
    with listening(Listener(OFF_LIST)) as trap:
        started = time.monotonic()
        run = locust(trap.url, *BRIEF)
    assert run.returncode == 2
    assert "not in drill.allowed_hosts" in run.stderr and trap.host in run.stderr
    assert "Traceback" not in run.stderr
    assert trap.hits == []
    assert time.monotonic() - started < 30


def test_a_host_typed_into_locusts_web_ui_is_refused():
    port = free_port()
    env = {**os.environ, "PEAKDAY_SCENARIO": str(FLASH), "PEAKDAY_SET": ";".join(BRIEF)}
    with listening(Listener(OFF_LIST)) as trap:
        ui = subprocess.Popen(
            [str(Path(sys.executable).parent / "locust"), "-f", "loadtests/locustfile.py",
             "--web-host", "127.0.0.1", "--web-port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            web = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(web, timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "Locust's web UI did not start"
                    time.sleep(0.5)
            httpx.post(f"{web}/swarm", data={"user_count": 10, "spawn_rate": 10,
                                             "host": trap.url}, timeout=10)
            time.sleep(3)
            assert httpx.get(f"{web}/stats/requests", timeout=10).json()["state"] == "stopped"
        finally:
            ui.terminate()
            output, _ = ui.communicate(timeout=60)
    assert trap.hits == []
    assert ui.returncode == 2 and "not in drill.allowed_hosts" in output


def test_a_worker_refuses_a_host_its_own_list_does_not_have(tmp_path):
    """The master allows 127.0.0.2 on its command line; the worker was not told so."""
    port = free_port()
    peakday = [sys.executable, "-m", "peakday", "drill", str(FLASH), *sets(*BRIEF)]
    with listening(Listener(OFF_LIST)) as trap:
        master = subprocess.Popen(
            [*peakday, "--target", trap.url, "--allow-host", OFF_LIST, "--master",
             "--expect-workers", "1", "--master-port", str(port), "--out", str(tmp_path / "r")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            worker = subprocess.run([*peakday, "--worker", "--master-port", str(port)],
                                    cwd=ROOT, capture_output=True, text=True, timeout=120)
        finally:
            output, _ = master.communicate(timeout=120)
    assert worker.returncode == 2, worker.stderr
    assert "worker: the master's target" in worker.stderr
    assert f"add --allow-host {OFF_LIST}" in worker.stderr
    assert trap.hits == []
    report = json.loads((tmp_path / "r" / "drill.json").read_text())
    assert report["stopped_because"].startswith("aborted: a worker refused the target")
    assert report["stop"] == "worker_refused"
    assert master.returncode == 1 and not report["passed"], output
