"""`peakday simulate`: the results contract, determinism, and clean failures."""

from __future__ import annotations

import csv
import json

import pytest

from peakday.cli import app

from .conftest import SCENARIOS
from .refusals import assert_refused, snapshot
from .test_estimate import QUIET


def simulate(runner, out, *args):
    return runner.invoke(app, ["simulate", str(SCENARIOS / "small-shop.yaml"), "--quiet",
                               "--out", str(out), *args])


def test_results_follow_the_contract(runner, tmp_path):
    result = simulate(runner, tmp_path / "run")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("scenario", "seed", "replications", "sessions", "requests", "orders", "gmv",
                "latency_ms", "error_rate", "shed_rate", "platform", "slo"):
        assert key in summary, key
    assert set(summary["latency_ms"]["all"]) == {"mean", "p50", "p95", "p99"}
    assert summary["latency_ms"]["all"]["p50"] <= summary["latency_ms"]["all"]["p99"]
    assert summary["sessions"] > 0 and summary["orders"] > 0
    assert isinstance(summary["slo"]["met"], bool)
    with (tmp_path / "run" / "timeseries.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24 * 60
    for column in ("arrivals", "active_sessions", "requests", "p99_ms", "errors", "shed",
                   "instances", "utilization"):
        assert column in rows[0], column
    assert sum(int(r["arrivals"]) for r in rows) == summary["sessions"]
    assert not list(tmp_path.glob(".*")), "no temporary folders left behind"


def test_replications_carry_confidence_intervals(runner, tmp_path):
    result = simulate(runner, tmp_path / "run", "--replications", "3", "--jobs", "1")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    sessions = summary["sessions"]
    assert sessions["ci95"][0] <= sessions["mean"] <= sessions["ci95"][1]
    assert summary["replications"] == 3


def test_same_seed_same_bytes_whatever_the_jobs(runner, tmp_path):
    one = simulate(runner, tmp_path / "a", "--replications", "2", "--jobs", "1")
    two = simulate(runner, tmp_path / "b", "--replications", "2", "--jobs", "2")
    other = simulate(runner, tmp_path / "c", "--replications", "2", "--jobs", "1", "--seed", "8")
    assert one.exit_code == two.exit_code == other.exit_code == 0
    for name in ("summary.json", "timeseries.csv"):
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
        assert a != (tmp_path / "c" / name).read_bytes(), name


def test_bad_scenario_writes_nothing(runner, tmp_path):
    result = runner.invoke(app, ["simulate", str(SCENARIOS / "flash-sale.yaml"), "--out",
                                 str(tmp_path / "run"), "--set", "platform.instances=-1"])
    assert result.exit_code == 2
    assert "platform.instances" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_unwritable_results_folder_is_a_clean_error(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = simulate(runner, blocker / "run")
    assert result.exit_code == 2
    assert "cannot write results" in result.output and "Traceback" not in result.output


def _users_folder(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "earlier-run").mkdir()
    (folder / "earlier-run" / "summary.json").write_text('{"mine": true}')
    (folder / "notes.txt").write_text("keep")
    return folder


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_out_never_replaces_what_the_user_has(runner, tmp_path, kind):
    if kind == "folder":
        out = _users_folder(tmp_path)
    else:
        out = tmp_path / "results"
        out.write_text("a file of mine")
    before = snapshot(tmp_path)
    result = simulate(runner, out)
    assert_refused(result, str(out), "peakday does not replace it")
    assert snapshot(tmp_path) == before


def test_force_replaces_a_results_folder_peakday_wrote_and_nothing_else(runner, tmp_path):
    quiet = [x for o in QUIET for x in ("--set", o)]
    run = tmp_path / "run"

    def again(*args):
        return runner.invoke(app, ["simulate", str(SCENARIOS / "flash-sale.yaml"), "--quiet",
                                   "--out", str(run), *quiet, *args])

    assert again().exit_code == 0
    first = snapshot(tmp_path)
    assert_refused(again("--seed", "8"), "exists and is not empty", "--force replaces it")
    assert snapshot(tmp_path) == first
    assert again("--seed", "8", "--force").exit_code == 0
    assert json.loads((run / "summary.json").read_text())["seed"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "no temporary folders"
    (run / "my-notes.md").write_text("mine")
    second = snapshot(tmp_path)
    assert_refused(again("--force"), "my-notes.md, which peakday did not write")
    assert snapshot(tmp_path) == second


@pytest.mark.parametrize("command", ["simulate", "drill"])
def test_force_never_replaces_a_folder_of_the_users(runner, tmp_path, command):
    out = _users_folder(tmp_path)
    before = snapshot(tmp_path)
    target = ["--target", "http://127.0.0.1:9"] if command == "drill" else ["--quiet"]
    result = runner.invoke(app, [command, str(SCENARIOS / "flash-sale.yaml"), *target,
                                 "--out", str(out), "--force"])
    assert_refused(result, str(out), "not a folder peakday wrote", "--force replaces only those")
    assert snapshot(tmp_path) == before
