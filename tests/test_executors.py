"""Dask: the same work units on a real 2-worker LocalCluster give the same bytes as local."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from peakday.cli import app

ROOT = Path(__file__).resolve().parents[1]
MMC = str(ROOT / "scenarios" / "textbook" / "mmc.yaml")
SMALL = ["--set", "clock.duration=1h", "--set", "slo.latency_p99.home=1200ms"]


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_replicated_simulate_and_sizing_on_dask_match_local_byte_for_byte(runner, tmp_path):
    for command, extra in (("simulate", ["--replications", "3"]),
                           ("size", ["--replications", "2"])):
        folders = {}
        for executor in ("local", "dask"):
            out = tmp_path / f"{command}-{executor}"
            result = runner.invoke(app, [command, MMC, *SMALL, *extra, "--jobs", "2",
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
