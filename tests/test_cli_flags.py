"""Command-line details users rely on: flags, JSON output, defaults, init, refused options."""

from __future__ import annotations

import json

import pytest

from peakday.cli import app
from sim.scenario import load_scenario

from .conftest import SCENARIOS

MMC = SCENARIOS / "textbook" / "mmc.yaml"


@pytest.mark.parametrize("command", ["simulate", "validate", "compare", "drill", "serve", "size",
                                     "calibrate", "report", "init", "schema"])
def test_flags_show_no_bool_placeholder(runner, command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    flags = [line for line in result.output.splitlines()
             if "<bool>" in line and "--help" not in line]
    assert flags == []


def test_validate_json_lists_each_file_and_exits_2_on_a_problem(runner, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(MMC.read_text().replace("instances: 4", "instances: four"))
    result = runner.invoke(app, ["validate", "--json", str(MMC), str(broken)])
    assert result.exit_code == 2
    files = json.loads(result.stdout)
    assert [(f["ok"], f["scenario"]) for f in files] == [(True, "textbook-mmc"), (False, None)]
    assert files[1]["errors"][0].startswith(f"{broken}:")
    assert "platform.instances" in files[1]["errors"][0]


@pytest.mark.parametrize("args", [["--set", "seed=3", "schema"],
                                  ["--overlay", "plan.yaml", "report", "somewhere"]])
def test_commands_that_read_no_scenario_refuse_set_and_overlay(runner, args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "reads no scenario file" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("extra", "replications"), [
    (["--set", "sizing.replications=2"], 2), ([], 1),
    (["--set", "sizing.replications=2", "--replications", "3"], 3)])
def test_replications_default_to_the_scenarios_sizing_replications(runner, tmp_path, extra,
                                                                   replications):
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(MMC), "--set", "clock.duration=5m",
                                 "--jobs", "1", "--json", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["replications"] == replications


def test_init_writes_a_valid_commented_starter_and_never_overwrites(runner, tmp_path):
    path = tmp_path / "scenario.yaml"
    result = runner.invoke(app, ["init", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.count("\n#") + text.count("  # ") > 20, "commented for a first-time user"
    scenario = load_scenario(path)
    assert scenario.promotions is not None and scenario.support is not None
    path.write_text("my own work\n")
    again = runner.invoke(app, ["init", str(path)])
    assert again.exit_code == 2 and "already exists" in again.output
    assert path.read_text() == "my own work\n"


def test_drill_json_on_a_refused_target_prints_no_json(runner, tmp_path):
    result = runner.invoke(app, ["drill", str(SCENARIOS / "flash-sale.yaml"), "--json",
                                 "--target", "http://checkout.invalid:8080", "--out",
                                 str(tmp_path / "d")])
    assert result.exit_code == 2
    assert not result.stdout.lstrip().startswith("{")
    assert not (tmp_path / "d").exists()


def test_raising_instances_under_autoscaling_warns_that_it_is_only_the_start(runner):
    result = runner.invoke(app, ["validate", str(SCENARIOS / "double11.yaml"),
                                 "--set", "platform.instances=12"])
    assert result.exit_code == 0
    assert "warning: --set platform.instances only sets the start" in result.output
    plain = runner.invoke(app, ["validate", str(MMC), "--set", "platform.instances=5"])
    assert "warning" not in plain.output
