"""peakday size, servers: theory, properties, the plan applied, bad input, infeasible SLOs."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from peakday.cli import app
from sim.erlang import MMc
from sim.executors import open_executor
from sim.metrics import Histogram
from sim.run import mean_ci, replication_seeds
from sim.scenario import load_scenario
from sim.sizing.servers import Check, Interval, _find_bound, p99_high, size_servers
from sim.sizing.work import Simulations

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "scenarios" / "textbook" / "mmc.yaml"
LAMBDA, MEAN_SERVICE, LIMIT = 16.0, 0.2, 1.2
"""M/M/c at 16 requests/s, 200 ms mean service; p99 SLO 1.2 s (service alone: 0.92 s)."""
MMC_SETTINGS = ["clock.duration=1h", f"traffic.sessions_per_min.00:00={LAMBDA * 60:g}",
                f"slo.latency_p99.home={LIMIT * 1000:g}ms"]


def sized(settings: list[str], replications: int = 3) -> tuple[int, ...]:
    scenario = load_scenario(MMC, [*MMC_SETTINGS, *settings])
    seeds = replication_seeds(scenario.seed, replications)
    with open_executor("local", jobs=1) as inline:
        return size_servers(scenario, Simulations(scenario, seeds, inline), replications).plan


def theory_fewest(lam: float, limit: float) -> int:
    """The smallest c whose M/M/c response time has P(T > limit) <= 1%."""
    c = 1
    while c <= lam * MEAN_SERVICE or MMc(c, lam, 1 / MEAN_SERVICE).response_over(limit) > 0.01:
        c += 1
    return c


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


TWO_HOURS = ["clock.duration=2h", "traffic.sessions_per_min.00:59:59=960",
             "traffic.sessions_per_min.01:00=1680"]
"""16 requests/s for an hour, then 28/s: two intervals, two answers."""


@pytest.fixture(scope="module")
def two_hours(runner, tmp_path_factory):
    out = tmp_path_factory.mktemp("size") / "plan"
    result = runner.invoke(app, ["size", str(MMC), "--replications", "3", "--jobs", "2",
                                 "--out", str(out), "--quiet", "--deployment", "shop",
                                 *(f"--set={s}" for s in [*MMC_SETTINGS, *TWO_HOURS])])
    assert result.exit_code == 0, result.output
    return out


def test_mmc_servers_are_the_smallest_c_meeting_the_p99_slo_by_theory(two_hours):
    sizing = json.loads((two_hours / "sizing.json").read_text())
    first, second = sizing["servers"]["intervals"]
    for interval, lam in ((first, 16.0), (second, 28.0)):
        expected = theory_fewest(lam, LIMIT)
        assert abs(interval["instances"] - expected) <= 1, (interval, expected)
        assert interval["binds"] == "home p99" and interval["met"]
    assert second["instances"] > first["instances"]
    assert second["launch_at"] == "00:57"  # warm-up (3 minutes) ahead of 01:00
    assert yaml.safe_load((two_hours / "plan.yaml").read_text()) == {
        "platform": {"instances": {"00:00": first["instances"], "01:00": second["instances"]},
                     "autoscaling": {"enabled": False}}}
    assert sorted(p.name for p in two_hours.iterdir()) == [
        ".peakday", "plan.yaml", "prescale-keda.yaml", "prescale.csv", "report.html",
        "sizing.json"]
    html = (two_hours / "report.html").read_text()
    assert html.index("What to do") < html.index("Cost") < html.index("Servers per interval")
    assert (f"00:57: launch {second['instances'] - first['instances']} instances to have "
            f"{second['instances']} serving 01:00–02:00, bound by home p99") in html


def test_prescale_csv_applied_as_the_instance_schedule_reproduces_the_plan(runner, two_hours,
                                                                          tmp_path):
    # The plan holds on other shoppers (seed 99, --check). What an SRE applies is prescale.csv:
    # as the scenario's instance schedule (serving from each row's time) it must give the
    # plan's own result, to the figure, on the same shoppers.
    rows = list(csv.DictReader(io.StringIO((two_hours / "prescale.csv").read_text())))
    schedule = {r["serve_from"][11:16]: int(r["instances"]) for r in rows}
    applied = tmp_path / "from-csv.yaml"
    applied.write_text(yaml.safe_dump({"platform": {"instances": schedule,
                                                    "autoscaling": {"enabled": False}}}))
    summaries = []
    for name, overlay in (("plan", two_hours / "plan.yaml"), ("csv", applied)):
        result = runner.invoke(app, ["simulate", str(MMC), "--overlay", str(overlay),
                                     "--seed", "99", "--replications", "2", "--check", "--quiet",
                                     "--out", str(tmp_path / name),
                                     *(f"--set={s}" for s in [*MMC_SETTINGS, *TWO_HOURS])])
        assert result.exit_code == 0, result.output
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        summaries.append({k: v for k, v in summary.items() if k not in ("options", "run_id")})
    assert summaries[0] == summaries[1]


def test_keda_triggers_and_prescale_csv_match_sizing_json(two_hours):
    sizing = json.loads((two_hours / "sizing.json").read_text())
    first, second = sizing["servers"]["intervals"]
    keda = yaml.safe_load((two_hours / "prescale-keda.yaml").read_text())
    assert keda["kind"] == "ScaledObject" and keda["spec"]["scaleTargetRef"]["name"] == "shop"
    # The scenario's clock is 2026-11-11 at +08:00: cron in Etc/GMT-8 on that date.
    assert keda["spec"]["triggers"] == [
        {"type": "cron", "metadata": {"timezone": "Etc/GMT-8", "start": "0 0 11 11 *",
                                      "end": "0 1 11 11 *",
                                      "desiredReplicas": str(first["instances"])}},
        {"type": "cron", "metadata": {"timezone": "Etc/GMT-8", "start": "57 0 11 11 *",
                                      "end": "0 2 11 11 *",
                                      "desiredReplicas": str(second["instances"])}},
    ]
    rows = list(csv.DictReader(io.StringIO((two_hours / "prescale.csv").read_text())))
    assert [(r["serve_from"], r["instances"], r["launch_at"]) for r in rows] == [
        ("2026-11-11T00:00+08:00", str(first["instances"]), "2026-11-11T00:00+08:00"),
        ("2026-11-11T01:00+08:00", str(second["instances"]), "2026-11-11T00:57+08:00")]


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
    assert re.search(r"home p99 [\d,]+ ms against 400 ms", result.output), result.output
    sizing = json.loads((out / "sizing.json").read_text())
    assert not sizing["met"]
    (interval,) = sizing["servers"]["intervals"]
    assert interval["bound_by"] == {"home p99": "service time itself"}
    assert interval["over"][0]["metric"] == "home p99"
    assert sizing["servers"]["search"]["steps"] <= 8  # stops adding, never searches to max


def test_a_p99_of_few_requests_is_judged_pooled_and_of_many_at_the_ci_worse_end():
    rng = np.random.default_rng(3)

    def hists(n: int, replications: int = 3) -> list[Histogram]:
        out = []
        for _ in range(replications):
            h = Histogram()
            h.add_values(rng.lognormal(np.log(0.2), 0.6, n))
            out.append(h)
        return out

    few = hists(30)
    pooled = Histogram()
    for h in few:
        pooled.merge(h)
    # 30 requests per replication: the p99 is each replication's maximum; pooled, as
    # `simulate --check` judges an hour.
    assert p99_high(few, 3, 0.95) == pooled.quantile(0.99)
    many = hists(5000)
    per_replication = [h.quantile(0.99) for h in many]
    high = p99_high(many, 3, 0.95)
    assert high == mean_ci(per_replication, 0.95)[2] > max(per_replication)
    assert p99_high(many, 3, 0.99) > high


def test_what_servers_do_not_fix_in_a_lock_bound_hour_is_named_the_locks():
    # A flash-sale hour: checkout waits on the hot row holding workers, so cart waits too and
    # requests time out; 50% more instances change none of it. The plan names the lock once.
    limits = {"checkout p99": 1.0, "error rate": 0.01, "cart p99": 1.0, "home p99": 1.0}
    low = Check({"checkout p99": 3.0, "error rate": 0.20, "cart p99": 2.0, "home p99": 0.5},
                limits)
    high = Check({"checkout p99": 2.9, "error rate": 0.19, "cart p99": 1.95, "home p99": 0.4},
                 limits)
    state = Interval(0, 0.0, 3600.0, 8, tested={8: low, 12: high})
    _find_bound(state)
    assert state.bound_by == {"error rate": "stock lock", "checkout p99": "stock lock",
                              "cart p99": "stock lock"}
    assert state.bound_text() == "error rate, checkout p99, cart p99 bound by the stock lock"
    assert state.binds(2) == state.bound_text()
