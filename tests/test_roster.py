"""Rosters: optimal covers (brute force, pyworkforce), shift rules, the roster in a sizing."""

from __future__ import annotations

import itertools
import json
import math
import shlex

import numpy as np
import pytest
from pyworkforce.scheduling import MinRequiredResources

from sim.executors import Inline
from sim.scenario import load_scenario
from sim.scenario.loader import ScenarioError
from sim.sizing.agents import size_agents
from sim.sizing.gantt import roster_gantt
from sim.sizing.roster import (
    Horizon,
    RosterError,
    cheapest_cover,
    coverage,
    shift_options,
)

from .conftest import SCENARIOS

ERLANG_C = SCENARIOS / "textbook" / "erlang-c.yaml"


def shifts(**rule: object):
    return load_scenario(ERLANG_C, [f"sizing.agents.shifts={rule!r}"]).sizing.agents.shifts


def paid(agents, options) -> int:
    return sum(n * o.slots for n, o in zip(agents, options, strict=True))


@pytest.mark.parametrize(("need", "cyclic"), [([1, 2, 2, 0, 2], False),
                                              ([2, 0, 1, 2, 1], True),
                                              ([0, 2, 1, 2, 1], False)])
def test_the_cover_is_optimal_against_brute_force(need, cyclic):
    space = Horizon(len(need), cyclic, 3600.0)
    options = shift_options(shifts(lengths=["2h", "3h"], every="1h"), space, 0.0)
    agents = cheapest_cover(need, options)
    assert all(c >= n for c, n in zip(coverage(agents, options, len(need)), need, strict=True))
    best = min(paid(x, options) for x in itertools.product(range(max(need) + 1),
                                                          repeat=len(options))
               if all(c >= n for c, n in zip(coverage(x, options, len(need)), need,
                                             strict=True)))
    assert paid(agents, options) == best


def test_the_cover_costs_what_pyworkforce_finds_on_a_day_of_half_hours():
    # A double-peaked day of half-hours; 4 h and 8 h shifts starting on any half-hour.
    slots = np.arange(48)
    need = (4 + 14 * np.exp(-((slots - 20) / 5) ** 2) + 22 * np.exp(-((slots - 40) / 3) ** 2)
            ).round().astype(int).tolist()
    space = Horizon(48, True, 1800.0)
    options = shift_options(shifts(lengths=["4h", "8h"], every="30m"), space, 0.0)
    agents = cheapest_cover(need, options)
    model = MinRequiredResources(
        num_days=1, periods=48, required_resources=[need],
        shifts_coverage={f"s{j}": [int(i in o.covers) for i in range(48)]
                         for j, o in enumerate(options)},
        cost_dict={f"s{j}": o.slots for j, o in enumerate(options)},
        max_period_concurrency=1000, max_shift_concurrency=1000, num_search_workers=1,
        max_search_time=60.0)
    solution = model.solve()
    assert solution["status"] == "OPTIMAL"
    assert paid(agents, options) == solution["cost"]


def test_a_break_is_left_uncovered_and_starts_follow_the_window_and_cap():
    rule = shifts(lengths=["4h"], every="1h", earliest_start="06:00", latest_start="08:00",
                  max_per_start=2, **{"break": {"after": "2h", "length": "1h"}})
    options = shift_options(rule, Horizon(24, True, 3600.0), 0.0)
    assert [o.start for o in options] == [6, 7, 8]
    assert options[0].covers == (6, 7, 9)  # 06:00-10:00 with a break at 08:00
    need = [0] * 24
    need[9] = 4  # on the phones at 09:00: the 06:00 and 08:00 starts, two each at most
    assert cheapest_cover(need, options, 2) == [2, 0, 2]
    need[9] = 5
    with pytest.raises(RosterError, match="no roster"):
        cheapest_cover(need, options, 2)
    need[9], need[20] = 1, 1
    with pytest.raises(RosterError, match="no allowed shift covers slot 20"):
        cheapest_cover(need, options, 2)


def test_shift_rules_off_the_staffing_grid_are_scenario_errors():
    with pytest.raises(ScenarioError, match=r"sizing\.agents\.shifts\.every.*20m is not a "
                                            r"whole number of sizing\.agents\.per \(30m\)"):
        load_scenario(ERLANG_C, ["sizing.agents.shifts={'lengths': ['4h'], 'every': '20m'}"])


def test_a_sized_roster_covers_the_requirement_and_meets_the_slo_in_simulation():
    surge = "support.contacts.baseline_per_hour={'00:00': 200, '02:00': 600, '04:00': 200}"
    scenario = load_scenario(ERLANG_C, [
        "clock.duration=6h", surge, "support.handle_time=exponential(mean=180s)",
        "sizing.agents.shrinkage=20%", "sizing.agents.shifts={'lengths': ['2h', '4h']}",
        "sizing.agents.cost_per_agent_hour=25"])
    plan = size_agents(scenario, np.random.SeedSequence(5).spawn(12), Inline())
    roster = plan.roster
    assert roster is not None
    assert all(on >= row.scheduled for on, row in zip(roster.on_shift, plan.rows, strict=True))
    assert all(phones == math.floor(on * 0.8 + 1e-9) >= row.required
               for on, phones, row in zip(roster.on_shift, roster.on_the_phones, plan.rows,
                                          strict=True))
    assert all(j.meets for j in roster.judged) and not plan.unmet
    assert roster.agent_hours >= roster.need_agent_hours
    assert roster.agent_hours == sum(s.agents * s.hours for s in roster.shifts)
    # What is paid is the roster's shifts, not the scheduled requirement.
    assert plan.paid_hours == roster.agent_hours > plan.agent_hours
    assert plan.cost == pytest.approx(25 * roster.agent_hours)
    assert plan.schedule()["00:00"] == roster.on_the_phones[0]
    doc = plan.to_json()["roster"]
    assert doc["shifts"][0].keys() == {"start", "hours", "agents"}
    figure = roster_gantt(plan, scenario)
    assert figure.png.startswith(b"\x89PNG") and "shifts" in figure.title


def test_with_shifts_the_sizing_says_who_starts_when(tmp_path):
    from typer.testing import CliRunner

    from peakday.cli import app

    out = tmp_path / "rostered"
    sets = ["--set", "clock.duration=4h", "--set", "slo.latency_p99.default=1s",
            "--set", "support.handle_time=exponential(mean=180s)",
            "--set", "support.contacts.baseline_per_hour={'00:00': 200, '02:00': 600}",
            "--set", "sizing.agents.shifts={'lengths': ['2h', '4h']}"]
    result = CliRunner().invoke(app, ["size", str(ERLANG_C), *sets, "--replications", "4",
                                      "--jobs", "1", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    sizing = json.loads(result.stdout)
    shifts = sizing["agents"]["roster"]["shifts"]
    starts = [line for line in sizing["what_to_do"] if " agents on " in line
              or " agent on " in line]
    assert starts == [f"{s['start']}: start {s['agents']} agent{'s' if s['agents'] > 1 else ''}"
                      f" on {s['hours']:g} h shifts" for s in shifts]
    assert not [line for line in sizing["what_to_do"] if "answering (" in line]
    # The agents were confirmed on as many held-out days as the search's own (the default),
    # and the plan is a plan for the scenario with the --set values it was sized with.
    assert sizing["agents"]["confirmation"]["days"] == 4
    header = (out / "plan.yaml").read_text().splitlines()[1]
    assert shlex.split(header.removeprefix("#")) == [
        "peakday", "simulate", "SCENARIO", *sets, "--overlay", "plan.yaml", "--check"]
