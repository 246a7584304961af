"""Simulator speed, as ratios against baselines measured in the same run.

  (a) plain SimPy M/M/c: one process per customer, a ``simpy.Resource``, one numpy draw at a time
  (b) the floor of SimPy: the same FCFS logic with bare ``Timeout`` callbacks and batched draws
  (c) peakday's model on the textbook M/M/c scenario, and on the whole double11 day

All three on M/M/10 at rho = 0.9. Prints customers (requests) per wall-second and c/a, c/b;
then the double11 day's wall time and peak memory (in a child process, so the figure is the
day's alone). Goals (issue 3): c/a >= 4, c/b >= 0.6, double11 <= 120 s and <= 1 GiB.

    python benchmarks/sim_throughput.py [--customers N] [--skip-day]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
SERVERS, MU, RHO = 10, 5.0, 0.9
LAM = RHO * SERVERS * MU


def plain_simpy(customers: int, seed: int = 1) -> float:
    """(a) The textbook SimPy model; returns the mean response time."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=SERVERS)
    total = [0.0, 0]

    def customer():
        t0 = env.now
        with server.request() as request:
            yield request
            yield env.timeout(rng.exponential(1 / MU))
        total[0] += env.now - t0
        total[1] += 1

    def source():
        for _ in range(customers):
            yield env.timeout(rng.exponential(1 / LAM))
            env.process(customer())

    env.process(source())
    env.run()
    return total[0] / total[1]


def callback_simpy(customers: int, seed: int = 1) -> float:
    """(b) FCFS with bare Timeout callbacks and numpy-batched random numbers."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / LAM, customers).tolist()
    services = rng.exponential(1 / MU, customers).tolist()
    env = simpy.Environment()
    queue: deque[tuple[float, float]] = deque()
    state = {"busy": 0, "total": 0.0, "done": 0}

    def start(t0: float, service: float) -> None:
        state["busy"] += 1
        env.timeout(service, t0).callbacks.append(finish)

    def finish(event) -> None:
        state["busy"] -= 1
        state["total"] += env.now - event._value
        state["done"] += 1
        if queue:
            start(*queue.popleft())

    def arrive(event) -> None:
        i = event._value
        if state["busy"] < SERVERS:
            start(env.now, services[i])
        else:
            queue.append((env.now, services[i]))
        if i + 1 < customers:
            env.timeout(gaps[i + 1], i + 1).callbacks.append(arrive)

    env.timeout(gaps[0], 0).callbacks.append(arrive)
    env.run()
    return state["total"] / state["done"]


def peakday_mmc(customers: int) -> tuple[float, int]:
    """(c) The full model on the textbook scenario; returns (mean response, requests)."""
    from sim.model.day import simulate_day
    from sim.scenario import load_scenario

    duration = customers / LAM
    scenario = load_scenario(ROOT / "scenarios" / "textbook" / "mmc.yaml", [
        f"platform.instances={SERVERS}", f"traffic.sessions_per_min.00:00={LAM * 60}",
        f"clock.duration={duration:.0f}s"])
    obs = simulate_day(scenario, np.random.SeedSequence(1))
    return obs.latency["all"].mean(), int(obs.counters["requests_submitted"])


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


DAY_SCRIPT = """
import sys, time, numpy as np
from sim.model.day import simulate_day
from sim.scenario import load_scenario
scenario = load_scenario(sys.argv[1])
start = time.perf_counter()
obs = simulate_day(scenario, np.random.SeedSequence(scenario.seed))
print(time.perf_counter() - start, int(obs.counters["requests_submitted"]),
      int(obs.counters["sessions"]))
"""


def double11_day() -> tuple[float, int, int, float]:
    """Wall seconds, requests, sessions and peak RSS (MiB) of one double11 replication."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    output = subprocess.run([sys.executable, "-c", DAY_SCRIPT,
                             str(ROOT / "scenarios" / "double11.yaml")],
                            check=True, capture_output=True, text=True).stdout.split()
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return float(output[0]), int(output[1]), int(output[2]), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--skip-day", action="store_true", help="skip the double11 day")
    args = parser.parse_args()
    n = args.customers
    print(f"M/M/{SERVERS} at rho = {RHO}, {n:,} customers; theory W = ", end="")
    from sim.erlang import MMc

    print(f"{MMc(SERVERS, LAM, MU).mean_response * 1000:.1f} ms")
    (w_a, t_a) = timed(plain_simpy, n)
    (w_b, t_b) = timed(callback_simpy, n)
    ((w_c, served), t_c) = timed(peakday_mmc, n)
    rate_a, rate_b, rate_c = n / t_a, n / t_b, served / t_c
    for label, w, rate in (("(a) plain SimPy", w_a, rate_a), ("(b) callback SimPy", w_b, rate_b),
                           ("(c) peakday model", w_c, rate_c)):
        print(f"{label:20s} {rate:>10,.0f} customers/s   W = {w * 1000:6.1f} ms")
    print(f"c/a = {rate_c / rate_a:.2f}   (goal >= 4)")
    print(f"c/b = {rate_c / rate_b:.2f}   (goal >= 0.6)")
    if not args.skip_day:
        wall, requests, sessions, peak = double11_day()
        print(f"double11 day: {sessions:,} sessions, {requests:,} requests in {wall:.1f} s "
              f"({requests / wall:,.0f} requests/s), peak memory {peak:,.0f} MiB "
              f"(goal <= 120 s, <= 1024 MiB)")


if __name__ == "__main__":
    main()
