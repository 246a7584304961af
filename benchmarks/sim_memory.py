"""Memory of one replication: it follows what is in flight at once, not the day's total.

Each case runs in a fresh child process and reports its peak RSS (``getrusage``), beside the
same child's RSS right after imports (numpy, scipy, SimPy, pydantic: the floor any run pays):

- ``double11``: the reference day;
- ``double11-10d``: the same scenario over ten days (traffic repeats daily): goal within
  1.5x one day's peak;
- ``double11-x10``: ten times the sessions (and the capacity to serve them, as in
  ``sim_realistic.py``), with ``--where`` the largest allocation sites (tracemalloc) at the
  busiest snapshot of its first ``--where-hours`` hours (tracemalloc slows the run several
  times over, so that run is separate and shorter).

    python benchmarks/sim_memory.py [--cases a,b] [--where] [--where-hours H]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.sim_realistic import DOUBLE11, scaled_double11  # noqa: E402

PEAK_SCRIPT = """
import json, resource, sys, time
import numpy as np
from sim.model.day import simulate_day
from sim.scenario import load_scenario
scenario = load_scenario(sys.argv[1], sys.argv[2:])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu = time.process_time()
obs = simulate_day(scenario, np.random.SeedSequence(scenario.seed))
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "base_mib": base, "cpu": time.process_time() - cpu,
                  "sessions": int(obs.counters["sessions"]),
                  "requests": int(obs.counters["requests_submitted"])}))
"""

WHERE_SCRIPT = """
import json, sys, tracemalloc
import numpy as np
from sim.model.day import simulate_day
from sim.scenario import load_scenario
scenario = load_scenario(sys.argv[1])
hours = float(sys.argv[2])
scenario = scenario.model_copy(update={"clock": scenario.clock.model_copy(
    update={"duration": hours * 3600.0})})
best = [0, None]

def look(now):
    if now % 600 < 60:  # every ten simulated minutes
        current = tracemalloc.get_traced_memory()[0]
        if current > best[0]:
            best[:] = [current, tracemalloc.take_snapshot()]

tracemalloc.start()
simulate_day(scenario, np.random.SeedSequence(scenario.seed), progress=look)
rows = [{"where": str(stat.traceback), "mib": stat.size / 2**20, "count": stat.count}
        for stat in best[1].statistics("lineno")[:12]]
print(json.dumps({"traced_mib": best[0] / 2**20, "top": rows}))
"""


def child(script: str, *args: str) -> dict:
    output = subprocess.run([sys.executable, "-c", script, *args], check=True,
                            capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="double11,double11-10d,double11-x10")
    parser.add_argument("--where", action="store_true",
                        help="where double11-x10's memory goes (tracemalloc)")
    parser.add_argument("--where-hours", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        x10 = scaled_double11(10, Path(tmp))
        cases = {"double11": (DOUBLE11, []), "double11-10d": (DOUBLE11, ["clock.duration=10d"]),
                 "double11-x10": (x10, [])}
        peaks = {}
        for name in args.cases.split(","):
            path, overrides = cases[name]
            r = child(PEAK_SCRIPT, str(path), *overrides)
            peaks[name] = r["peak_mib"]
            print(f"{name:14s} {r['sessions']:>11,} sessions {r['requests']:>12,} requests  "
                  f"peak {r['peak_mib']:,.0f} MiB (after imports {r['base_mib']:,.0f} MiB)  "
                  f"{r['cpu']:.0f} cpu-s", flush=True)
        if "double11" in peaks and "double11-10d" in peaks:
            print(f"double11-10d / double11 peak: {peaks['double11-10d'] / peaks['double11']:.2f}"
                  " (goal <= 1.5)")
        if args.where:
            r = child(WHERE_SCRIPT, str(x10), str(args.where_hours))
            print(f"double11-x10, first {args.where_hours:g} h: busiest snapshot "
                  f"{r['traced_mib']:,.1f} MiB traced; largest sites:")
            for row in r["top"]:
                print(f"  {row['mib']:8.1f} MiB {row['count']:>9,} blocks  {row['where']}")


if __name__ == "__main__":
    main()
