"""``peakday compare``: plans side by side, deltas against the first, paired significance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peakday.cli import app
from sim.results.compare_runs import difference_test

from .conftest import SCENARIOS

MMC = SCENARIOS / "textbook" / "mmc.yaml"
SHORT = ["--set", "clock.duration=20m", "--replications", "3", "--jobs", "1", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """M/M/c with 4 and 5 servers (same seed: common random numbers), 4 again, and 4 with
    another seed; three replications of 20 minutes each."""
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("compare")
    plans = {"four": ["--set", "platform.instances=4"],
             "five": ["--set", "platform.instances=5"],
             "again": ["--set", "platform.instances=4"],
             "other-seed": ["--set", "platform.instances=4", "--seed", "99"]}
    for name, plan in plans.items():
        result = CliRunner().invoke(app, ["simulate", str(MMC), *SHORT, *plan,
                                          "--out", str(root / name)])
        assert result.exit_code == 0, result.output
    return {name: root / name for name in plans}


def _compare(runner, tmp_path, *folders: Path) -> dict:
    result = runner.invoke(app, ["compare", *map(str, folders), "--out", str(tmp_path / "c"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _row(document: dict, key: str) -> dict:
    return next(r for r in document["rows"] if r["key"] == key)


def test_the_plan_is_recorded_in_the_summary_and_the_report(runs):
    summary = json.loads((runs["five"] / "summary.json").read_text())
    assert summary["options"] == {"overlays": [], "set": ["clock.duration=20m",
                                                          "platform.instances=5"]}
    assert len(summary["per_replication"]["p99_ms_all"]) == 3
    html = (runs["five"] / "report.html").read_text()
    assert "--set platform.instances=5" in html and 'id="plan"' in html


def test_two_runs_a_fifth_server_cuts_p99_significantly(runs, runner, tmp_path):
    document = _compare(runner, tmp_path, runs["four"], runs["five"])
    p99 = _row(document, "p99_ms_all")["cells"]
    assert p99[1]["value"] < p99[0]["value"]
    assert p99[1]["delta"].startswith("-") and p99[1]["paired"]
    assert p99[1]["significant"] and p99[1]["p"] < 0.05
    sessions = _row(document, "sessions")["cells"][1]
    assert sessions["delta"] == "+0.0%" and sessions["p"] == 1.0, \
        "same seed, same shoppers: arrivals are identical, not merely close"
    assert [r["plan"] for r in document["runs"]] == [
        ["--set clock.duration=20m", "--set platform.instances=4"],
        ["--set clock.duration=20m", "--set platform.instances=5"]]
    page = (tmp_path / "c" / "compare.html").read_text()
    assert 'id="figure-table"' in page and "platform.instances=5" in page


def test_three_runs_an_identical_plan_shows_no_difference(runs, runner, tmp_path):
    document = _compare(runner, tmp_path, runs["four"], runs["five"], runs["again"])
    assert [r["label"] for r in document["runs"]] == ["four", "five", "again"]
    for row in document["rows"]:
        again = row["cells"][2]
        assert again["value"] == row["cells"][0]["value"]
        assert not again["significant"]


def test_runs_with_different_seeds_are_compared_unpaired(runs, runner, tmp_path):
    document = _compare(runner, tmp_path, runs["four"], runs["other-seed"])
    cell = _row(document, "p99_ms_all")["cells"][1]
    assert cell["paired"] is False and cell["p"] is not None


def test_the_terminal_table_names_each_plan(runs, runner, tmp_path):
    result = runner.invoke(app, ["compare", str(runs["four"]), str(runs["five"]), "--out",
                                 str(tmp_path / "c")], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "every run: --set clock.duration=20m" in result.output
    assert "--set platform.instances=5" in result.output
    assert "p99, all endpoints" in result.output and "*" in result.output


def test_paired_differences_cancel_the_noise_the_unpaired_test_sees():
    base = [100.0, 140.0, 90.0, 160.0]
    better = [b - 5 + d for b, d in zip(base, [0.1, -0.1, 0.2, -0.2], strict=True)]
    assert difference_test(base, better, paired=True) < 0.001
    assert difference_test(base, better, paired=False) > 0.5
    assert difference_test([1.0], [2.0], paired=True) is None


@pytest.mark.parametrize("args", [["one"], ["missing-a", "missing-b"]])
def test_bad_folders_are_one_line_and_exit_2(runner, tmp_path, args):
    result = runner.invoke(app, ["compare", *(str(tmp_path / a) for a in args)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
