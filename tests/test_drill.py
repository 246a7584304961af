"""Drills: the open-model schedule, the safety guards, and real Locust runs on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from loadtests.safety import AllowList, UnsafeTarget, check_target
from loadtests.schedule import build_plan
from loadtests.target.launch import free_port
from peakday.cli import app
from sim.scenario import load_scenario
from sim.traffic import RateCurve

from .conftest import SCENARIOS

pytestmark = pytest.mark.xdist_group("load")
"""Drills and calibrations time a real server under load: they run one after the other on one
pytest worker (``--dist loadgroup``), never beside each other, or a drill's start lag measures
the calibration next to it."""

FLASH = SCENARIOS / "flash-sale.yaml"
SHORT = ["--set", 'drill.window=["19:59:30","20:02:00"]', "--set", "drill.compress=5"]
"""Two and a half minutes around the start of the sale, replayed in 30 s."""


def test_schedule_follows_the_curve_scaled_and_compressed():
    scenario = load_scenario(FLASH, ["drill.window=[\"19:00\",\"19:50\"]", "drill.scale=0.05",
                                     "drill.compress=10"])
    plan = build_plan(scenario)
    assert plan.duration == pytest.approx(3000 / 10)
    curve = RateCurve(scenario.traffic.sessions_per_min, scenario.clock)
    expected = 0.05 * float(np.diff(curve.integral(np.array([0.0, 3000.0])))[0])
    assert abs(len(plan.visits) - expected) < 3 * np.sqrt(expected)
    starts = [v.start for v in plan.visits]
    assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] < plan.duration
    assert plan.users > 1


def test_schedule_is_seeded_and_shared_out_between_workers():
    scenario = load_scenario(FLASH)
    a, b, c = build_plan(scenario), build_plan(scenario), build_plan(scenario, seed=99)
    assert a.visits == b.visits and a.visits != c.visits
    flash = [v for v in a.visits if v.sale is not None]
    assert len(flash) == round(60_000 * scenario.drill.scale)  # the audience, scaled
    assert any(v.bot for v in flash) and all(v.steps[0] == "product" for v in flash)
    shares = [a.share(i, 3) for i in range(3)]
    assert sorted(v.index for share in shares for v in share) == list(range(len(a.visits)))


def test_the_generators_busy_share_is_the_loads_alone():
    """What a process spends starting its users before the schedule's zero (0.1 s of CPU),
    and writing up after the load stopped (0.3 s), is not the load's (0.2 s): calibrate
    divides the busy share into the generator's cost per request. In a process of its own
    (tests/busy_share.py: Locust patches the standard library on import)."""
    run = subprocess.run([sys.executable, "-m", "tests.busy_share"], capture_output=True,
                         text=True, timeout=60, check=True)
    measured = json.loads(run.stdout)
    assert measured["busy"] == pytest.approx(0.2 / measured["seconds"], rel=0.15)


def test_users_without_a_visit_cost_the_generator_nothing():
    """A pool's users wait for a share of the schedule, and once it is all taken wait again,
    without waking: 2,000 polling users cost 0.30 s of CPU a second before the share and 0.08
    after it (5 wake-ups a second each), what took a drill's generator from 73% of its core
    to 90% in its last ten seconds. In a process of its own (tests/idle_users.py)."""
    run = subprocess.run([sys.executable, "-m", "tests.idle_users"], capture_output=True,
                         text=True, timeout=60, check=True)
    measured = json.loads(run.stdout)
    assert measured["taken"] == measured["share"] > 0, "the share woke the waiting users"
    assert measured["cpu_before_share"] < 0.02 and measured["cpu_after_share"] < 0.02, measured


LOOPBACK = AllowList(["127.0.0.1", "localhost", "::1"])


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"])
def test_loopback_targets_are_allowed(url):
    assert check_target(url, LOOPBACK) == url
    assert check_target(f"{url}/", LOOPBACK) == url


@pytest.mark.parametrize("url", ["http://10.0.0.8", "http://shop.example.com", "ftp://localhost",
                                 "localhost:8080", "http://127.0.0.2"])
def test_other_targets_are_refused(url):
    with pytest.raises(UnsafeTarget):
        check_target(url, LOOPBACK)
    assert check_target("http://shop.invalid", AllowList(["127.0.0.1"], ["shop.invalid"]))


def test_a_refused_target_exits_2_before_sending_anything(runner, tmp_path):
    started = time.monotonic()
    result = runner.invoke(app, ["drill", str(FLASH), "--target", "http://shop.invalid:8080",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "not in drill.allowed_hosts" in result.output and "nothing was sent" in result.output
    assert not (tmp_path / "run").exists()
    assert time.monotonic() - started < 5


def test_allow_host_lifts_the_refusal(runner, tmp_path):
    """`.invalid` never resolves (RFC 6761): the drill runs, every request fails, nothing leaves."""
    result = runner.invoke(app, [
        "drill", str(FLASH), "--target", "http://shop.invalid:8080", "--allow-host",
        "shop.invalid", "--out", str(tmp_path / "run"), *SHORT,
        "--set", "drill.max_duration=6s", "--set", "drill.abort.for=2s"])
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "run" / "drill.json").read_text())
    assert report["target"] == "http://shop.invalid:8080" and not report["passed"]


def test_a_failing_target_aborts_the_drill(runner, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connections refused
    started = time.monotonic()
    result = runner.invoke(app, ["drill", str(FLASH), "--target", closed, "--out",
                                 str(tmp_path / "run"), *SHORT, "--set", "drill.abort.for=3s",
                                 "--set", "drill.abort.error_rate=50%"])
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "run" / "drill.json").read_text())
    assert report["stopped_because"].startswith("aborted: error rate")
    assert report["stop"] == "error_rate_abort"
    assert time.monotonic() - started < 40, "the abort stops the drill early"


def check_drill(report: dict) -> None:
    """What every real drill of the flash sale must show."""
    late_windows = [w for w in report["windows"] if w["from_s"] >= 10]
    assert late_windows and all(w["relative_error"] <= 0.05 for w in late_windows), \
        report["windows"]
    assert report["fidelity"] <= 0.05
    # Latency per window, merged across workers: every window's requests, nothing counted twice
    # (requests due after the schedule's last window, while visits finish, are in no window).
    assert all(w["requests"] > 0 and w["p95_ms"] > 0 for w in late_windows), report["windows"]
    in_windows = sum(w["requests"] for w in report["windows"])
    assert 0.8 * report["requests"] <= in_windows <= report["requests"]
    slowest = max(e["max_ms"] for e in report["endpoints"].values())
    assert all(w["p95_ms"] <= slowest * 1.01 for w in late_windows)
    # The generator's busy share per window (the busiest process's): the drill's whole share
    # is their time average in one process, and at most the busiest window's with workers.
    shares = [w["generator_busy"] for w in late_windows[:-1]]
    assert shares and all(0 < share < 2 for share in shares), report["windows"]
    whole = report["load_generator"]["busy"]
    assert whole <= max(shares) + 0.05
    if not report["workers"]:
        assert min(shares) - 0.05 <= whole
    assert report["start_lag_ms"]["p99"] <= 250
    assert report["sessions"]["not_started"] == 0
    assert "H1" in report["sold_out"], "the flash sale sells out"
    server = report["server"]
    assert server["oversold"]["H1"] == 0 and server["conserved"]
    assert server["stock"]["H1"]["available"] == 0
    assert report["thresholds"] and {c["metric"] for c in report["thresholds"]} >= {
        "latency_p99", "error_rate"}
    assert report["endpoints"]["checkout"]["outcomes"]["sold_out"] > 0
    generator = report["load_generator"]  # from the local process, or each worker's reports
    assert 0 < generator["busy"] < 2 and generator["limited"] == (generator["busy"] >= 0.9)
    # Every process froze its plan (a visit is several objects), then its share of the users.
    assert generator["frozen_objects"] > 3 * report["sessions"]["scheduled"] + report["users"]
    assert generator["users_frozen"] >= report["users"] / max(1, report["workers"])


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "two-workers"])
def test_self_test_drill_replays_the_flash_sale(runner, tmp_path, workers):
    out = tmp_path / "run"
    mine = os.sched_getaffinity(0)
    result = runner.invoke(app, ["drill", str(FLASH), "--self-test", "--workers", str(workers),
                                 "--out", str(out), *SHORT])
    report = json.loads((out / "drill.json").read_text())
    cores = sorted(mine)
    placed = report["self_test"]["cores"]
    if len(cores) >= 1 + max(1, workers):  # the service on a core of its own, Locust apart
        assert placed == {"service": cores[-1:], "generator": cores[:-1]}, placed
        assert json.loads((out / "config.json").read_text())["cores"] == cores[:-1]
    else:
        assert placed is None
    assert os.sched_getaffinity(0) == mine, "the command's own process is not pinned"
    assert result.exit_code == (0 if report["passed"] else 1), result.output
    assert "model vs drill" in result.output
    assert not re.search(r"\d\.\d{4,}", result.output), "figures are rounded for people"
    assert report["workers"] == workers
    assert report["ran_s"] <= 30 + 10 + 2, "the schedule, drill.graceful_stop, a shape tick"
    check_drill(report)
    for name in ("locust_stats.csv", "locust_failures.csv", "locust.html", "report.html"):
        assert (out / name).stat().st_size > 0
    assert "The load generator's busiest process used" in (out / "report.html").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["admin_token"] == "(withheld)", "the target's admin token is not written"
    comparison = json.loads((out / "comparison.json").read_text())
    rows = {(r["figure"], r.get("sku")): r for r in comparison["rows"]}
    sold_out = rows[("sold out (s into the drill)", "H1")]
    assert sold_out["observed"] is not None
    assert abs(sold_out["predicted"] - sold_out["observed"]) < 60 / 5, \
        "the model predicts the sell-out the drill sees, within a scenario minute"
    sessions = rows[("sessions", None)]
    assert abs(sessions["predicted"] - sessions["observed"]) < 0.25 * sessions["observed"]
    # The target's CPU per request (its /metrics) beside the model's demand: the flash sale's
    # production demands (tens of ms) are not the reference service's (about a millisecond),
    # and the comparison says so instead of leaving a latency miss unexplained.
    cpu = rows[("CPU per request (ms)", None)]
    assert 0.05 < cpu["observed"] < 20 and cpu["predicted"] > 10 * cpu["observed"], cpu
    assert any("CPU per request" in note for note in comparison["notes"])
    assert "CPU per request" in (out / "report.html").read_text()
