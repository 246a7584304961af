"""peakday size, servers: theory, properties, the plan applied, bad input, infeasible SLOs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from peakday.cli import app
from sim.erlang import MMc
from sim.run import replication_seeds
from sim.scenario import load_scenario
from sim.sizing.servers import size_servers
from sim.sizing.work import LocalExecutor

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "scenarios" / "textbook" / "mmc.yaml"
LAMBDA, MEAN_SERVICE, LIMIT = 16.0, 0.2, 1.2
"""M/M/c at 16 requests/s, 200 ms mean service; p99 SLO 1.2 s (service alone: 0.92 s)."""
MMC_SETTINGS = ["clock.duration=1h", f"traffic.sessions_per_min.00:00={LAMBDA * 60:g}",
                f"slo.latency_p99.home={LIMIT * 1000:g}ms"]


def sized(settings: list[str], replications: int = 3) -> tuple[int, ...]:
    scenario = load_scenario(MMC, [*MMC_SETTINGS, *settings])
    with LocalExecutor(scenario, replication_seeds(scenario.seed, replications), 1) as ex:
        return size_servers(scenario, ex, replications).plan


def theory_fewest(lam: float, limit: float) -> int:
    """The smallest c whose M/M/c response time has P(T > limit) <= 1%."""
    c = 1
    while c <= lam * MEAN_SERVICE or MMc(c, lam, 1 / MEAN_SERVICE).response_over(limit) > 0.01:
        c += 1
    return c


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def test_mmc_servers_are_the_smallest_c_meeting_the_p99_slo_by_theory(runner, tmp_path):
    out = tmp_path / "plan"
    result = runner.invoke(app, ["size", str(MMC), "--replications", "3", "--jobs", "2",
                                 "--out", str(out), "--quiet",
                                 *(f"--set={s}" for s in MMC_SETTINGS)])
    assert result.exit_code == 0, result.output
    sizing = json.loads((out / "sizing.json").read_text())
    expected = theory_fewest(LAMBDA, LIMIT)
    (interval,) = sizing["servers"]["intervals"]
    assert abs(interval["instances"] - expected) <= 1, (interval, expected)
    assert interval["binds"] == "home p99" and interval["met"]
    assert yaml.safe_load((out / "plan.yaml").read_text()) == {
        "platform": {"instances": {"00:00": interval["instances"]},
                     "autoscaling": {"enabled": False}}}
    assert sorted(p.name for p in out.iterdir()) == [".peakday", "plan.yaml", "report.html",
                                                     "sizing.json"]
    html = (out / "report.html").read_text()
    assert html.index("What to do") < html.index("Cost") < html.index("Servers per interval")
    assert f"start with {interval['instances']} instances for 00:00–01:00" in html


def test_more_traffic_never_needs_fewer_servers_and_a_looser_slo_never_more():
    base = sized([])
    busier = sized([f"traffic.sessions_per_min.00:00={LAMBDA * 60 * 1.6:g}"])
    looser = sized([f"slo.latency_p99.home={LIMIT * 1500:g}ms"])
    assert busier[0] >= base[0] + 1  # 60% more load: at least one more server by theory
    assert looser[0] <= base[0]


def test_bad_input_is_one_line_and_exit_2_with_nothing_written(runner, tmp_path):
    cases = [
        (["--set", "slo.latency_p99={}"], "nothing to size: the scenario has no platform SLO"),
        (["--set", "sizing.servers.min=5", "--set", "sizing.servers.max=3"],
         "sizing.servers.min: min 5 is above max 3"),
        (["--set", "sizing.servers.per=30m", "--set", "slo.latency_p99.home=1s"],
         "servers are sized per whole hours"),
    ]
    for extra, message in cases:
        out = tmp_path / "never"
        result = runner.invoke(app, ["size", str(MMC), "--out", str(out), *extra])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
        assert not out.exists() and not list(tmp_path.iterdir())


def test_an_slo_no_plan_meets_exits_1_with_the_best_plan_and_what_fails(runner, tmp_path):
    out = tmp_path / "best"
    # 400 ms is below the service time's own p99 (920 ms): no number of servers meets it.
    result = runner.invoke(app, ["size", str(MMC), "--replications", "2", "--jobs", "1",
                                 "--out", str(out), "--set", "clock.duration=1h",
                                 "--set", "slo.latency_p99.home=400ms",
                                 "--set", "sizing.servers.max=40"])
    assert result.exit_code == 1, result.output
    assert "No plan within the limits meets every SLO" in result.output
    assert "00:00–01:00: SLO NOT MET with" in result.output
    assert "home p99" in result.output and "over its limit" in result.output
    sizing = json.loads((out / "sizing.json").read_text())
    assert not sizing["met"]
    (interval,) = sizing["servers"]["intervals"]
    assert interval["bound_by"] == {"home p99": "service time itself"}
    assert interval["over"][0]["metric"] == "home p99"
    assert sizing["servers"]["search"]["steps"] <= 8  # stops adding, never searches to max
