"""Sizing double11 on this machine: wall time, CPU time and simulated days; the plan checked.

Runs ``peakday size scenarios/double11.yaml`` (or ``--scenario FILE``) as a user would (a child
process, so the CPU figure is the sizing's alone), then feeds the plan back with another seed:
``peakday simulate scenarios/double11.yaml --overlay DIR/plan.yaml --seed 4242 --check``.
Prints the wall and CPU seconds, the search's steps and simulated days, the plan (instances
per hour, agents per interval), its cost beside the scenario's own, and the check's exit
status. Goal (issue 12): <= 10 minutes on 2 cores; aim <= 3.

    python benchmarks/sizing.py [--scenario FILE] [--replications R] [--jobs J]
                                [--executor local|dask] [--out DIR] [--skip-check]
                                [--set KEY=VALUE ...]

Run it once per executor to see Dask's overhead (same seeds: the same plan and sizing.json).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "double11.yaml"
PEAKDAY = [sys.executable, "-m", "peakday"]


def timed(command: list[str]) -> tuple[int, float, float, str]:
    """Exit status, wall seconds and CPU seconds (children) of a command, and its output.

    The CPU figure misses days forked by ``size`` on the local executor: their processes are
    reaped by the replication's root process, so their time reaches nobody's children total.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
    print(done.stdout + done.stderr, end="")
    status = done.returncode
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return status, wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--replications", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--executor", choices=["local", "dask"], default="local",
                        help="dask: the same search on a LocalCluster of --jobs workers")
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a scenario change for the sizing and its check alike "
                             "(e.g. inventory.strategy=sharded)")
    args = parser.parse_args()
    changes = [word for value in args.sets for word in ("--set", value)]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or ROOT / "results" / f"bench-sizing-{args.scenario.stem}-{stamp}"
    command = [*PEAKDAY, "size", str(args.scenario), *changes, "--out", str(out),
               "--executor", args.executor]
    if args.replications:
        command += ["--replications", str(args.replications)]
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    status, wall, cpu, output = timed(command)
    sizing = json.loads((out / "sizing.json").read_text())
    search = sizing["servers"]["search"]
    forked = re.search(r"([\d.]+) of them forked", output)
    cpu_text = f"{cpu:.0f} s CPU, " if args.executor == "dask" else ""
    print(f"size {args.scenario.stem} ({args.executor} executor): exit {status}, "
          f"{wall:.0f} s wall, {cpu_text}"
          f"{search['steps']} search steps, {search['simulated_days']} days "
          f"(servers; {forked.group(1) if forked else 0} of them forked from checkpoints, "
          f"not simulated again) with {sizing['replications']} replications per plan")
    hours = sizing["servers"]["intervals"]
    print("instances per hour:", " ".join(f"{i['from']}={i['instances']}" for i in hours))
    agents = sizing["agents"]
    if agents:
        print("agents (answering/scheduled) per interval:",
              " ".join(f"{a['from']}={a['required']}/{a['scheduled']}"
                       for a in agents["intervals"]))
        confirmation = agents["confirmation"]
        if confirmation:
            print(f"agents confirmed on {confirmation['days']} held-out days: "
                  f"{len(confirmation['missed'])} interval(s) missed there, "
                  f"+{confirmation['added_agent_hours']:g} agent-hours after pooling",
                  *confirmation["missed"], sep="\n   ")
    own = sizing["scenario_plan"]
    print(f"plan: {sizing['servers']['instance_hours']:.1f} instance-hours"
          + (f", {agents['agent_hours']:.0f} scheduled agent-hours "
             f"({agents['paid_agent_hours']:.0f} paid)" if agents else "")
          + f", cost {sizing['cost']:,.0f}; scenario's own: {own['instance_hours']:.1f} "
          f"instance-hours, {own['agent_hours']:.0f} agent-hours, cost {own['cost']:,.0f} "
          f"(servers met: {own['servers_met']}, support met: {own['support_met']})")
    for line in sizing["what_to_do"]:
        print("  ", line)
    if args.skip_check:
        return
    check = [*PEAKDAY, "simulate", str(args.scenario), *changes,
             "--overlay", str(out / "plan.yaml"),
             "--seed", "4242", "--replications", str(sizing["replications"]), "--check",
             "--out", str(out.parent / f"{out.name}-check")]
    status, wall, cpu, _ = timed(check)
    print(f"plan fed back (seed 4242, {sizing['replications']} replications): simulate --check "
          f"exit {status} ({wall:.0f} s wall)")


if __name__ == "__main__":
    main()
