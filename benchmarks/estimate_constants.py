"""Calibrate sim/estimate.py's constants on this machine (see that module's docstring).

Runs ``peakday simulate --quiet`` in a fresh child process on three scenarios — small-shop's
day, double11's day, and small-shop over 60 days at 1% of its rates — measures each child's
CPU time (user + system) and peak resident memory (``os.wait4``), and solves

    cpu  = START_S    + SECONDS_PER_REQUEST * requests + SECONDS_PER_MINUTE * minutes
    peak = BASE_BYTES + BYTES_PER_PENDING   * pending  + BYTES_PER_MINUTE   * minutes

for the six constants (three runs, three unknowns per line), with requests, pending and
minutes as the estimate computes them from each scenario. Then prints each run's estimate
beside what it measured. Takes about two minutes (double11 dominates).

    python benchmarks/estimate_constants.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.estimate import estimate, load_of  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

SMALL = ROOT / "scenarios" / "small-shop.yaml"
QUIET = ["clock.duration=60d", *(f"traffic.sessions_per_min.{t}={r / 100:g}" for t, r in
                                  (("00:00", 6), ("06:00", 3), ("09:00", 20), ("12:30", 35),
                                   ("17:00", 25), ("20:30", 45), ("23:00", 12)))]
RUNS = {
    "small-shop, 1 day": (SMALL, []),
    "double11, 1 day": (ROOT / "scenarios" / "double11.yaml", []),
    "small-shop, 60 days at 1%": (SMALL, QUIET),
}


def measure(scenario: Path, overrides: list[str]) -> tuple[float, float, float]:
    """CPU seconds, peak resident bytes and elapsed seconds of one simulate in a child."""
    with tempfile.TemporaryDirectory() as scratch:
        sets = [x for o in overrides for x in ("--set", o)]
        command = [str(Path(sys.executable).parent / "peakday"), "simulate", str(scenario),
                   "--quiet", "--out", str(Path(scratch) / "run"), *sets]
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024.0, elapsed


def main() -> None:
    rows, cpu, peak = [], [], []
    for name, (scenario, overrides) in RUNS.items():
        load = load_of(load_scenario(scenario, overrides))
        seconds, resident, elapsed = measure(scenario, overrides)
        print(f"{name}: {load.requests:,.0f} requests (estimated), {load.pending:,.0f} pending, "
              f"{load.minutes:,.0f} minutes: {seconds:.1f} CPU s ({elapsed:.1f} s elapsed), "
              f"{resident / 2**20:.0f} MiB")
        rows.append((load.requests, load.pending, load.minutes))
        cpu.append(seconds)
        peak.append(resident)
    requests, pending, minutes = (np.array(column) for column in zip(*rows, strict=True))
    ones = np.ones(len(rows))
    start, per_request, per_minute = np.linalg.solve(
        np.column_stack([ones, requests, minutes]), cpu)
    base, per_pending, bytes_minute = np.linalg.solve(
        np.column_stack([ones, pending, minutes]), peak)
    print(f"\nSTART_S = {start:.3g}\nSECONDS_PER_REQUEST = {per_request:.3g}\n"
          f"SECONDS_PER_MINUTE = {per_minute:.3g}\nBASE_BYTES = {base:.3g}\n"
          f"BYTES_PER_PENDING = {per_pending:.3g}\nBYTES_PER_MINUTE = {bytes_minute:.3g}")
    print("\nWith the constants in sim/estimate.py now:")
    for (name, (scenario, overrides)), seconds, resident in zip(RUNS.items(), cpu, peak,
                                                                strict=True):
        cost = estimate(load_scenario(scenario, overrides))
        print(f"  {name}: estimated {cost.cpu_seconds:.1f} CPU s, "
              f"{cost.peak_bytes / 2**20:.0f} MiB; measured {seconds:.1f} CPU s, "
              f"{resident / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
