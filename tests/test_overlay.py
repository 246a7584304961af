"""``--overlay FILE``: a partial scenario merged before validation, errors in its own lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from peakday.cli import app
from sim.scenario import ScenarioError, load_scenario

from .conftest import SCENARIOS

SHOP = SCENARIOS / "small-shop.yaml"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_sections_merge_and_schedules_replace(tmp_path):
    overlay = write(tmp_path / "plan.yaml",
                    'platform:\n  instances: 5\nsupport:\n  agents: {"00:00": 3, "12:00": 4}\n')
    base = load_scenario(SHOP)
    merged = load_scenario(SHOP, overlays=[overlay])
    assert merged.platform.instances == 5
    # The rest of the section stays: a merge, not a replacement.
    assert merged.platform.workers_per_instance == base.platform.workers_per_instance
    assert merged.platform.endpoints == base.platform.endpoints
    # A schedule is replaced whole: none of the scenario's own points survive between the plan's.
    assert merged.support.agents == {0.0: 3, 12 * 3600.0: 4}


def test_later_overlays_and_set_win(tmp_path):
    first = write(tmp_path / "a.yaml", "platform: {instances: 5}\n")
    second = write(tmp_path / "b.yaml", "platform: {instances: 6}\n")
    assert load_scenario(SHOP, overlays=[first, second]).platform.instances == 6
    assert load_scenario(SHOP, ["platform.instances=7"], [first, second]).platform.instances == 7


def test_errors_name_the_overlay_and_its_line(tmp_path):
    overlay = write(tmp_path / "plan.yaml", "# a plan\nplatform:\n  instances: -3\n  wrokers: 2\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(SHOP, overlays=[overlay])
    errors = caught.value.errors
    assert any(e.startswith(f"{overlay}:3: platform.instances: got -3") for e in errors), errors
    assert any(e.startswith(f"{overlay}:4: platform.wrokers: unknown key") for e in errors), errors


def test_errors_in_the_scenario_keep_its_own_name(tmp_path):
    overlay = write(tmp_path / "plan.yaml", "platform: {instances: 5}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(SHOP, ["customers.client_timeout=fast"], [overlay])
    assert caught.value.errors[0].startswith(f"{SHOP}:--set: customers.client_timeout")


def test_every_command_reads_overlays_before_or_after_it(runner, tmp_path):
    overlay = write(tmp_path / "plan.yaml", "platform: {instances: 0}\n")
    for args in (["validate", str(SHOP), "--overlay", str(overlay)],
                 ["--overlay", str(overlay), "validate", str(SHOP)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"{overlay}:1: platform.instances" in result.output
    good = write(tmp_path / "good.yaml", "platform: {instances: 3}\n")
    result = runner.invoke(app, ["validate", str(SHOP), "--overlay", str(good)])
    assert result.exit_code == 0, result.output


def test_a_missing_or_broken_overlay_is_one_line_and_exit_2(runner, tmp_path):
    for overlay, expected in ((tmp_path / "absent.yaml", "cannot read it"),
                              (write(tmp_path / "list.yaml", "- 1\n"), "not a mapping"),
                              (write(tmp_path / "broken.yaml", "platform: [\n"), "broken YAML")):
        result = runner.invoke(app, ["validate", str(SHOP), "--overlay", str(overlay)])
        assert result.exit_code == 2
        assert result.output.count("\n") == 1 and expected in result.output, result.output
        assert "Traceback" not in result.output
