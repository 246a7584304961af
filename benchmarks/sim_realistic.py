"""Engine speed on realistic paths, as ratios against SimPy's callback floor in the same run.

The floor is (b) of ``sim_throughput.py``: FCFS M/M/10 with bare ``Timeout`` callbacks and
batched draws, the least work SimPy can do per customer. Rates are per CPU-second (user +
system time of the process doing the work), which a machine shared with other jobs disturbs
far less than wall time; wall seconds are printed beside them. The floor is measured right
before and right after each case and the case is divided by their mean; with ``--repeat N``
every case runs N times and the range is printed.

Cases (each in a fresh child process, so one case's memory or imports do not colour another):

- ``mmc-admission``: M/M/12 at rho = 0.9 with admission control and client timeouts, as every
  real scenario has (max_queue 5000, queue_timeout 20s, client_timeout 30s);
- ``mmc-long-timeouts``: the same with 10 h limits (a deadline per waiting request would sit
  in SimPy's heap for 10 h);
- ``double11``: the reference day, one replication;
- ``double11-x10``: the same day with ten times the sessions, the platform, the stock and the
  contact centre scaled alike, so each session does the same work: wall time should be about
  10x double11's.

For each case: the model's own time (``simulate_day``) and, with ``--end-to-end``, the whole
``peakday simulate`` command (imports, scenario, model, summary, report) timed from outside,
both as requests per CPU-second and as a ratio to the floor; and the model's peak RSS.

    python benchmarks/sim_realistic.py [--cases a,b] [--repeat N] [--hours H] [--end-to-end]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.sim_throughput import callback_simpy  # noqa: E402
from sim.scenario.loader import read_source  # noqa: E402

FLOOR_CUSTOMERS = 300_000
MMC = ROOT / "scenarios" / "textbook" / "mmc.yaml"
DOUBLE11 = ROOT / "scenarios" / "double11.yaml"


def mmc_overrides(hours: float, limit: str | None = None) -> list[str]:
    """M/M/12 at rho = 0.9 (lambda = 54/s, mu = 5/s) with admission control and timeouts."""
    queue_timeout, client_timeout = (limit, limit) if limit else ("20s", "30s")
    return ["platform.instances=12", "traffic.sessions_per_min.00:00=3240",
            f"clock.duration={hours}h", "platform.admission.max_queue=5000",
            f"platform.admission.queue_timeout={queue_timeout}",
            f"customers.client_timeout={client_timeout}"]


def scaled_double11(factor: float, folder: Path) -> Path:
    """double11 with ``factor`` times the sessions, and the capacity to serve them alike."""
    # The scenario reader, not yaml.safe_load: it keeps `off` a key and a distribution's
    # commas inside flow mappings (`{service: lognormal(mean=20ms, cv=0.8)}`) in one value.
    data = read_source(DOUBLE11).data
    data["name"] = f"double11-x{factor:g}"
    data["traffic"]["sessions_per_min"] = {
        t: rate * factor for t, rate in data["traffic"]["sessions_per_min"].items()}
    for sku in data["catalog"]["skus"]:
        sku["stock"] = int(sku["stock"] * factor)
    for sale in data["promotions"]["flash_sales"]:
        sale["audience"] = int(sale["audience"] * factor)
        sale["sku"]["stock"] = int(sale["sku"]["stock"] * factor)
    platform = data["platform"]
    platform["instances"] = int(platform["instances"] * factor)
    platform["admission"]["max_queue"] = int(platform["admission"]["max_queue"] * factor)
    for key in ("min", "max"):
        platform["autoscaling"][key] = int(platform["autoscaling"][key] * factor)
    support = data["support"]
    support["contacts"]["baseline_per_hour"] *= factor
    support["agents"] = {t: int(n * factor) for t, n in support["agents"].items()}
    data["sizing"]["servers"]["max"] = int(data["sizing"]["servers"]["max"] * factor)
    path = folder / f"double11-x{factor:g}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


MODEL_SCRIPT = """
import json, resource, sys, time
import numpy as np
from sim.model.day import simulate_day
from sim.scenario import load_scenario
scenario = load_scenario(sys.argv[1], sys.argv[2:])
start, cpu = time.perf_counter(), time.process_time()
obs = simulate_day(scenario, np.random.SeedSequence(scenario.seed))
cpu, wall = time.process_time() - cpu, time.perf_counter() - start
print(json.dumps({"wall": wall, "cpu": cpu, "requests": int(obs.counters["requests_submitted"]),
                  "sessions": int(obs.counters["sessions"]),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_model(path: Path, overrides: list[str]) -> dict[str, float]:
    """The model alone, in a child process: wall and CPU seconds, requests, sessions, peak
    RSS."""
    output = subprocess.run([sys.executable, "-c", MODEL_SCRIPT, str(path), *overrides],
                            check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(path: Path, overrides: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the whole ``peakday simulate`` command, one replication."""
    peakday = Path(sys.executable).parent / "peakday"
    sets = [arg for override in overrides for arg in ("--set", override)]
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), children_cpu()
        subprocess.run([str(peakday), "simulate", str(path), "--replications", "1",
                        "--jobs", "1", "--out", str(Path(tmp) / "out"), "--quiet", *sets],
                       check=True, capture_output=True, text=True, cwd=ROOT)
        return time.perf_counter() - start, children_cpu() - cpu


def floor_rate() -> float:
    """The floor's customers per CPU-second."""
    cpu = time.process_time()
    callback_simpy(FLOOR_CUSTOMERS)
    return FLOOR_CUSTOMERS / (time.process_time() - cpu)


def measure(path: Path, overrides: list[str], end_to_end: bool) -> dict[str, float]:
    """One run of a case between two floor measurements."""
    before = floor_rate()
    model = run_model(path, overrides)
    command = run_command(path, overrides) if end_to_end else None
    after = floor_rate()
    floor = (before + after) / 2
    result = {**model, "floor": floor, "ratio": model["requests"] / model["cpu"] / floor}
    if command is not None:
        result["command_wall"], result["command_cpu"] = command
        result["ratio_end_to_end"] = model["requests"] / command[1] / floor
    return result


def span(values: list[float], fmt: str) -> str:
    low, high = min(values), max(values)
    return format(low, fmt) if len(values) == 1 or format(low, fmt) == format(high, fmt) \
        else f"{format(low, fmt)}–{format(high, fmt)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mmc-admission,mmc-long-timeouts,double11,double11-x10")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0, help="length of the M/M/c runs")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time the whole `peakday simulate` command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "mmc-admission": (MMC, mmc_overrides(args.hours)),
            "mmc-long-timeouts": (MMC, mmc_overrides(args.hours, "10h")),
            "double11": (DOUBLE11, []),
            "double11-x10": (scaled_double11(10, Path(tmp)), []),
        }
        cpus: dict[str, list[float]] = {}
        for name in args.cases.split(","):
            path, overrides = cases[name]
            runs = [measure(path, overrides, args.end_to_end) for _ in range(args.repeat)]
            cpus[name] = [r["cpu"] for r in runs]
            line = (f"{name:18s} {runs[0]['requests']:>11,} requests  "
                    f"model {span(cpus[name], '.1f')} cpu-s "
                    f"({span([r['wall'] for r in runs], '.1f')} wall-s) = "
                    f"{span([r['requests'] / r['cpu'] for r in runs], ',.0f')}/s = "
                    f"{span([r['ratio'] for r in runs], '.2f')}x floor "
                    f"({span([r['floor'] for r in runs], ',.0f')}/s)  "
                    f"peak {span([r['peak_mib'] for r in runs], ',.0f')} MiB")
            if args.end_to_end:
                line += (f"  command {span([r['command_cpu'] for r in runs], '.1f')} cpu-s "
                         f"({span([r['command_wall'] for r in runs], '.1f')} wall-s) = "
                         f"{span([r['ratio_end_to_end'] for r in runs], '.2f')}x floor")
            print(line, flush=True)
        if "double11" in cpus and "double11-x10" in cpus:
            ratio = statistics.median(cpus["double11-x10"]) / statistics.median(cpus["double11"])
            print(f"double11-x10 / double11 time (medians): {ratio:.1f}x (goal <= 11x)")


if __name__ == "__main__":
    main()
