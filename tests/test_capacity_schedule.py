"""Capacity on the clock: platform.instances and autoscaling.min as clock schedules."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.day import simulate_day
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.schedule import StepSchedule

SCENARIO = """\
name: scheduled
seed: 1
clock: {start: "2026-11-11T00:00:00+08:00", duration: 2h}
traffic:
  sessions_per_min: {"00:00": 600}
customers:
  segments:
    all: {share: 1, product_views: constant(0), funnel: {cart: 0, checkout: 0, pay: 0}}
platform:
  instances: {"00:00": 2, "01:00": 6}
  endpoints:
    home: {service: exponential(mean=100ms)}
  autoscaling: {enabled: false, max: 20, warmup: 3m}
"""


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "scheduled.yaml"
    path.write_text(SCENARIO)
    return path


def test_scheduled_instances_serve_from_their_clock_time_and_are_paid_from_launch(
        scenario_file):
    scenario = load_scenario(scenario_file)
    obs = simulate_day(scenario, np.random.SeedSequence(1))
    instances = obs.series["instances"]
    assert set(instances[:60]) == {2.0} and set(instances[60:]) == {6.0}
    # Launched three minutes ahead: four instances warm from 00:57 to 01:00.
    assert obs.counters["instance_hours"] == pytest.approx(2 + 6 + 4 * 3 / 60)


def test_fewer_instances_take_effect_at_their_clock_time(scenario_file):
    scenario = load_scenario(scenario_file, ['platform.instances={"00:00": 6, "01:00": 2}'])
    obs = simulate_day(scenario, np.random.SeedSequence(1))
    assert set(obs.series["instances"][:60]) == {6.0}
    assert set(obs.series["instances"][60:]) == {2.0}
    assert obs.counters["instance_hours"] == pytest.approx(8.0)


def test_a_scheduled_autoscaling_minimum_is_serving_at_its_clock_time(scenario_file):
    scenario = load_scenario(scenario_file, [
        "platform.instances=3", "platform.autoscaling.enabled=true",
        'platform.autoscaling.min={"00:00": 1, "01:00": 10}'])
    obs = simulate_day(scenario, np.random.SeedSequence(1))
    instances = obs.series["instances"]
    assert instances[:55].max() < 10  # one Erlang of load: the autoscaler scales in
    assert set(instances[60:]) == {10.0}
    assert obs.series["warming"][56] > 0  # launched at 00:57


def test_one_number_is_a_constant_schedule_and_dumps_as_written(scenario_file):
    scenario = load_scenario(scenario_file)
    assert scenario.model_dump(mode="json")["platform"]["instances"] == {"00:00": 2, "01:00": 6}
    constant = load_scenario(scenario_file, ["platform.instances=5"])
    assert constant.platform.instances == 5
    assert constant.model_dump(mode="json")["platform"]["instances"] == 5


def test_schedules_repeat_daily_and_start_from_the_clock_start():
    schedule = StepSchedule({0.0: 16, 7200.0: 8, 70200.0: 24}, start_time_of_day=3600.0)
    assert schedule.at(0) == 16 and schedule.at(3600) == 8 and schedule.at(66600) == 24
    assert schedule.at(86400 + 3600) == 8
    assert list(schedule.changes(86400 * 2))[:4] == [
        (3600.0, 16, 8), (66600.0, 8, 24), (82800.0, 24, 16), (90000.0, 16, 8)]


@pytest.mark.parametrize(("override", "message"), [
    ('platform.instances={"00:00": 2, "25:00": 3}',
     "platform.instances: 25:00: '25:00' is not a valid time of day"),
    ('platform.instances={"00:00": 0}', "platform.instances: 00:00: got 0 (a number >= 1)"),
    ('platform.instances={"00:00": two}', "platform.instances: 00:00: got 'two' (a whole number"),
    ('platform.instances={"03:00": 2}',
     "platform.instances.03:00: 03:00 is outside the simulated clock"),
    ("platform.autoscaling.enabled=true",
     "platform.instances: a schedule of instances needs autoscaling off"),
])
def test_bad_schedules_are_one_clear_line(scenario_file, override, message):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario_file, [override])
    assert len(caught.value.errors) == 1
    assert message in caught.value.errors[0]


def test_a_scheduled_minimum_above_max_is_an_error(scenario_file):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario_file, [
            "platform.instances=3", "platform.autoscaling.enabled=true",
            'platform.autoscaling.min={"00:00": 1, "01:00": 30}'])
    assert "platform.autoscaling.min: min 30 is above max 20" in caught.value.errors[0]
