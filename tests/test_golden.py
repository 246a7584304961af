"""Golden summaries: ``summary.json`` of two short runs, pinned byte for byte.

The model's numbers are checked against theory elsewhere, within confidence intervals; those
tests cannot see a clean-up that moves a figure a little. These can: any change to what
``peakday simulate`` writes — a different random draw, an extra rounding, a renamed key —
fails here. Each run is the ``peakday`` command in a fresh process with its own
``PYTHONHASHSEED`` (set and dict order must not leak into the output); the run with several
replications spreads them over two processes (the bytes must not depend on ``--jobs``; the
golden file was first written with ``--jobs 1``).

A deliberate change regenerates the files with the same commands::

    PEAKDAY_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and says in its commit message which figures moved and why.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = "PEAKDAY_REGENERATE_GOLDEN"

RUNS: dict[str, list[str]] = {
    # A whole ordinary day: support, hourly sections over 24 hours, one replication.
    "small-shop": ["scenarios/small-shop.yaml", "--replications", "1"],
    # The flash sale at a tenth of its rates: three replications give confidence intervals.
    "flash-sale": ["scenarios/flash-sale.yaml", "--replications", "3",
                   "--set", 'traffic.sessions_per_min={"19:00": 100}',
                   "--set", "promotions.flash_sales.0.audience=2000"],
}
"""The command line (after ``peakday simulate``) of each golden run, from the project root."""


def simulate(args: list[str], out: Path, *, jobs: int, hashseed: str) -> bytes:
    """``summary.json`` of ``peakday simulate ARGS`` run as a user runs it, in its own process."""
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    done = subprocess.run(
        [sys.executable, "-m", "peakday", "simulate", *args, "--jobs", str(jobs), "--quiet",
         "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return (out / "summary.json").read_bytes()


def difference(expected: bytes, got: bytes, limit: int = 40) -> str:
    lines = list(difflib.unified_diff(expected.decode().splitlines(), got.decode().splitlines(),
                                      "golden", "this run", lineterm="", n=2))
    more = f"\n... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


@pytest.mark.parametrize(("name", "jobs", "hashseed"),
                         [("small-shop", 1, "1"), ("flash-sale", 2, "4242")])
def test_summary_is_byte_for_byte_the_golden_one(name: str, jobs: int, hashseed: str,
                                                 tmp_path: Path) -> None:
    golden = GOLDEN / f"{name}.summary.json"
    got = simulate(RUNS[name], tmp_path / name, jobs=jobs, hashseed=hashseed)
    if os.environ.get(REGENERATE):
        golden.write_bytes(got)
    assert golden.exists(), f"{golden} is missing; {REGENERATE}=1 writes it"
    expected = golden.read_bytes()
    assert got == expected, (
        f"summary.json of `peakday simulate {' '.join(RUNS[name])}` is not {golden.name}:\n"
        f"{difference(expected, got)}\n"
        f"If the change is deliberate, regenerate with `{REGENERATE}=1 .venv/bin/python -m "
        f"pytest tests/test_golden.py` and say in the commit message which figures moved "
        f"and why.")
