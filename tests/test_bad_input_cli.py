"""Bad input on the command line: exit 2 with one line saying what is wrong, never a traceback,
nothing written."""

from __future__ import annotations

import pytest

from peakday.cli import app

from .conftest import SCENARIOS
from .refusals import assert_refused, snapshot


@pytest.mark.parametrize("value", ["1e30h", "1e400s", "36501d", "1000000d"])
def test_absurd_durations_are_refused_by_the_language(runner, tmp_path, value):
    result = runner.invoke(app, ["simulate", str(SCENARIOS / "small-shop.yaml"), "--out",
                                 str(tmp_path / "run"), "--set", f"clock.duration={value}"])
    assert_refused(result, "clock.duration", "the longest duration peakday reads")
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("command", ["simulate", "drill"])
def test_a_negative_seed_is_refused(runner, tmp_path, command):
    result = runner.invoke(app, [command, str(SCENARIOS / "flash-sale.yaml"), "--seed", "-5",
                                 "--self-test" if command == "drill" else "--quiet",
                                 "--out", str(tmp_path / "run")])
    assert_refused(result, "--seed -5: a seed is a whole number >= 0")
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("value", ["platform.instances={a: [", "platform.instances=[1, 2",
                                   "description=@home"])
def test_a_set_value_that_is_not_yaml_is_refused(runner, tmp_path, value):
    result = runner.invoke(app, ["simulate", str(SCENARIOS / "small-shop.yaml"), "--out",
                                 str(tmp_path / "run"), "--set", value])
    assert_refused(result, f"--set {value!r}: the value is not YAML", "for text, quote it")
    assert snapshot(tmp_path) == {}


def test_a_quoted_set_value_is_text(runner):
    result = runner.invoke(app, ["validate", str(SCENARIOS / "small-shop.yaml"), "--set",
                                 'description="@home"'])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("override", ["traffic.sessions_per_min.00:00=100000000",
                                      "traffic.sessions_per_min.00:00=2000000",
                                      "clock.duration=30000d"])
def test_a_run_over_the_limits_is_refused_with_its_estimate(runner, tmp_path, override):
    result = runner.invoke(app, ["simulate", str(SCENARIOS / "small-shop.yaml"), "--out",
                                 str(tmp_path / "run"), "--set", override])
    line = assert_refused(result, "refused: about", "sessions", "requests", "peak memory",
                          "over 1.0 G requests", "(--no-limit runs it anyway)")
    assert "G sessions" in line or "M sessions" in line
    assert snapshot(tmp_path) == {}
