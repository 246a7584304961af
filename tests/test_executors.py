"""Dask: the same work units on a real 2-worker LocalCluster give the same bytes as local."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from peakday.cli import app

ROOT = Path(__file__).resolve().parents[1]
MMC = str(ROOT / "scenarios" / "textbook" / "mmc.yaml")
SMALL = ["--set", "clock.duration=1h", "--set", "slo.latency_p99.home=1200ms"]
ERLANG_C = str(ROOT / "scenarios" / "textbook" / "erlang-c.yaml")
SUPPORT = ["--set", "clock.duration=2h", "--set", "slo.latency_p99.default=1s",
           "--set", "support.contacts.baseline_per_hour=200"]
"""Servers and agents both sized: the agents' replays run on the executor too."""


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_replicated_simulate_and_sizing_on_dask_match_local_byte_for_byte(runner, tmp_path):
    cases = (("simulate", [MMC, *SMALL, "--replications", "3"]),
             ("size", [MMC, *SMALL, "--replications", "2"]),
             ("size", [ERLANG_C, *SUPPORT, "--replications", "2"]))
    for case, (command, scenario) in enumerate(cases):
        folders = {}
        for executor in ("local", "dask"):
            out = tmp_path / f"{case}-{command}-{executor}"
            result = runner.invoke(app, [command, *scenario, "--jobs", "2",
                                         "--executor", executor, "--out", str(out), "--quiet"])
            assert result.exit_code == 0, result.output
            folders[executor] = files_of(out)
        assert folders["local"].keys() == folders["dask"].keys()
        for name, content in folders["local"].items():
            assert folders["dask"][name] == content, f"{command}: {name} differs on Dask"


def test_an_unreachable_scheduler_is_exit_2_and_one_line(runner, tmp_path):
    out = tmp_path / "never"
    result = runner.invoke(app, ["simulate", MMC, *SMALL, "--executor", "dask",
                                 "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)])
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_sizing_in_this_process_matches_sizing_in_processes_byte_for_byte(runner, tmp_path):
    # The search simulates each seed once per candidate plan; in one process that reuses the
    # seed objects, which must not change their streams (common random numbers).
    folders = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs-{jobs}"
        result = runner.invoke(app, ["size", ERLANG_C, *SUPPORT, "--replications", "2",
                                     "--jobs", jobs, "--out", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        folders[jobs] = files_of(out)
    assert folders["1"] == folders["2"]


def test_more_replications_than_cores_get_a_process_each_up_to_four_per_core(monkeypatch):
    from sim.executors import default_jobs

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert [default_jobs(n) for n in (1, 2, 3, 5, 8, 9, 20)] == [2, 2, 3, 5, 8, 8, 8]
