"""`peakday simulate`: the results contract, determinism, and clean failures."""

from __future__ import annotations

import csv
import json

import pytest
from scipy import stats

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


def test_intervals_are_at_the_scenarios_confidence(runner, tmp_path):
    """Same seed, same replications: only the level differs, so a 90% interval lies strictly
    inside the 99% one around the same mean, by the ratio of the Student-t quantiles; the
    summary, the minute bands, the report and the terminal all say which level it is."""
    runs = {}
    for level in ("0.9", "0.99"):
        out = tmp_path / level
        result = runner.invoke(app, [
            "simulate", str(SCENARIOS / "textbook" / "mmc.yaml"), "--replications", "4",
            "--jobs", "1", "--out", str(out), "--set", "clock.duration=20m",
            "--set", "traffic.sessions_per_min.00:00=300", "--set", f"sizing.confidence={level}"])
        assert result.exit_code == 0, result.output
        assert f"means ({float(level):.0%} intervals)" in result.output
        with (out / "timeseries.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        runs[level] = (json.loads((out / "summary.json").read_text()), rows,
                       (out / "report.html").read_text())
    (narrow, narrow_rows, narrow_html), (wide, wide_rows, wide_html) = runs["0.9"], runs["0.99"]
    assert (narrow["confidence"], wide["confidence"]) == (0.9, 0.99)
    ratio = stats.t.ppf(0.95, 3) / stats.t.ppf(0.995, 3)
    for a, b in ((narrow["sessions"], wide["sessions"]),
                 (narrow["latency_ms"]["all"]["p99"], wide["latency_ms"]["all"]["p99"]),
                 (narrow["platform"]["utilization"], wide["platform"]["utilization"])):
        assert a["mean"] == b["mean"]
        assert b["ci95"][0] < a["ci95"][0] < a["mean"] < a["ci95"][1] < b["ci95"][1]
        assert a["ci95"][1] - a["mean"] == pytest.approx(ratio * (b["ci95"][1] - b["mean"]),
                                                          rel=1e-3)
    inside = [float(w["p99_ms_lo"]) <= float(n["p99_ms_lo"]) <= float(n["p99_ms_hi"])
              <= float(w["p99_ms_hi"]) for n, w in zip(narrow_rows, wide_rows, strict=True)
              if w["p99_ms_lo"]]
    assert inside and all(inside)
    assert "means with 90% confidence intervals" in narrow_html
    assert "means with 99% confidence intervals" in wide_html


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
