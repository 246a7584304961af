"""`peakday report DIR` on folders whose files are valid JSON of the wrong shape, or not text:
one line naming the file and the field, exit 2, the old report left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from peakday.cli import app
from sim.results.folders import write_atomically

from .conftest import ROOT, SCENARIOS
from .refusals import assert_refused, snapshot
from .test_estimate import QUIET

DRILL = ROOT / "tests" / "data" / "drill"
"""drill.json and comparison.json of a real self-test drill of scenarios/flash-sale.yaml."""


@pytest.fixture(scope="module")
def simulation(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("inputs") / "run"
    result = CliRunner().invoke(app, ["simulate", str(SCENARIOS / "flash-sale.yaml"), "--quiet",
                                      "--out", str(out), *(x for o in QUIET for x in ("--set", o))])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def drill(tmp_path) -> Path:
    return write_atomically(tmp_path / "drill", {
        name: (DRILL / name).read_bytes() for name in ("drill.json", "comparison.json")})


def edit(path: Path, change) -> None:
    document = json.loads(path.read_bytes())
    change(document)
    path.write_text(json.dumps(document))


def test_a_real_drill_folder_renders(runner, drill):
    result = runner.invoke(app, ["report", str(drill)])
    assert result.exit_code == 0, result.output
    assert b"Thresholds" in (drill / "report.html").read_bytes()


SUMMARY_DAMAGE = {
    "slo-number": (lambda d: d.update(slo=5), "summary.json: slo: input should be"),
    "met-text": (lambda d: d["slo"].update(met="yes"), "summary.json: slo.met:"),
    "violation-without-value": (
        lambda d: d["slo"].update(violations=[{"metric": "error_rate", "endpoint": "all",
                                               "from": "", "to": "", "over_by": "1%"}]),
        "summary.json: slo.violations.0:"),
    "sessions-text": (lambda d: d.update(sessions="many"), "summary.json: sessions"),
    "no-latency": (lambda d: d.pop("latency_ms"), "summary.json: latency_ms: field required"),
    "band-of-one": (lambda d: d.update(orders={"mean": 3, "ci95": [1]}), "summary.json: orders"),
}


@pytest.mark.parametrize("damage", SUMMARY_DAMAGE, ids=list(SUMMARY_DAMAGE))
def test_a_summary_of_the_wrong_shape_is_a_clean_error(runner, simulation, tmp_path, damage):
    change, message = SUMMARY_DAMAGE[damage]
    copy = tmp_path / "copy"
    shutil.copytree(simulation, copy)
    edit(copy / "summary.json", change)
    before = snapshot(tmp_path)
    assert_refused(runner.invoke(app, ["report", str(copy)]), message)
    assert snapshot(tmp_path) == before, "the old report is left whole, nothing added"


DRILL_DAMAGE = {
    "no-thresholds": (lambda d: d.pop("thresholds"), "drill.json: thresholds: field required"),
    "thresholds-number": (lambda d: d.update(thresholds=5), "drill.json: thresholds:"),
    "passed-text": (lambda d: d["thresholds"][0].update(passed="no"),
                    "drill.json: thresholds.0.passed:"),
    "windows-of-text": (lambda d: d.update(windows=["a"]), "drill.json: windows.0:"),
    "no-endpoints": (lambda d: d.pop("endpoints"), "drill.json: endpoints: field required"),
}


@pytest.mark.parametrize("damage", DRILL_DAMAGE, ids=list(DRILL_DAMAGE))
def test_a_drill_json_of_the_wrong_shape_is_a_clean_error(runner, drill, damage):
    change, message = DRILL_DAMAGE[damage]
    edit(drill / "drill.json", change)
    before = snapshot(drill)
    assert_refused(runner.invoke(app, ["report", str(drill)]), message)
    assert snapshot(drill) == before


@pytest.mark.parametrize("name", ["summary.json", "drill.json", "comparison.json"])
def test_bytes_that_are_not_utf8_are_a_clean_error(runner, simulation, drill, tmp_path, name):
    folder = drill
    if name == "summary.json":
        folder = tmp_path / "copy"
        shutil.copytree(simulation, folder)
    (folder / name).write_bytes(b'{"scenario": "caf\xe9 \xff"}')
    before = snapshot(folder)
    assert_refused(runner.invoke(app, ["report", str(folder)]), f"{name}: not valid JSON")
    assert snapshot(folder) == before


def test_a_comparison_of_the_wrong_shape_is_a_clean_error(runner, drill):
    edit(drill / "comparison.json", lambda d: d.update(rows={"a": 1}))
    assert_refused(runner.invoke(app, ["report", str(drill)]), "comparison.json: rows:")


def test_a_report_html_that_peakday_did_not_write_is_never_replaced(runner, drill):
    (drill / "report.html").write_text("my own page")
    before = snapshot(drill)
    assert_refused(runner.invoke(app, ["report", str(drill)]),
                   "report.html: exists and peakday did not write it")
    assert snapshot(drill) == before


@pytest.mark.parametrize("damage", ["slo-number", "sessions-text", "no-latency"])
def test_compare_reads_summaries_through_the_same_shapes(runner, simulation, tmp_path, damage):
    change, message = SUMMARY_DAMAGE[damage]
    copy = tmp_path / "copy"
    shutil.copytree(simulation, copy)
    edit(copy / "summary.json", change)
    result = runner.invoke(app, ["compare", str(simulation), str(copy), "--out",
                                 str(tmp_path / "cmp")])
    assert_refused(result, message)
    assert not (tmp_path / "cmp").exists()
