"""The calibration loop against the reference checkout (SQLite): calibrate twice, then drill at
about half and about 90% of the measured saturation throughput, and judge the prediction.

Starts `peakday serve` (one uvicorn worker, SQLite) on a free loopback port and keeps it for
the whole run (stock never sells out at scale 1), so every calibration and drill meets the
same target:

1. `peakday calibrate --target URL` twice (A and B): the demands of B within 10% of A?
2. drills of the flash-sale scenario's steady stretch (20:15-20:25, no flash sale or outage,
   replayed 5x faster) with `--overlay A/calibration.yaml`, at the `drill.scale` the
   calibrated model says gives ~50% and ~90% of the measured saturation throughput;
3. per drill, from comparison.json: throughput within 10% and p95 within 25% for every
   endpoint with >= 200 requests?

With ``--repeats N`` each load is drilled N times in a row, the same schedule against the same
server: how far the target's own p95 moves between identical drills is the yardstick for the
prediction's error (on this 2-core microVM, up to 15x at ~760 requests/s, README). Each
drill's load generator busy share (drill.json) says whether the generator, not only the
target, was measured. With ``--witness``, one more drill per load with a lone client beside
it (:class:`Witness`): the target's latency with none of the load generator's own waiting in
it, against the prediction.

The service gets a core of its own and the load generator the others (``--no-pin``: the
scheduler's choice): sharing two cores, the target's product p95 at ~760 requests/s moved
8-122 ms between identical drills; pinned, 16-18 ms (README). Prints the figures and the machine's
1-minute load average sampled through each phase (the machine may be shared: say so when
quoting them). Results under
results/bench-calibration-<UTC time>/.

    python benchmarks/calibration.py [--step 15] [--first-rate 20] [--loads 0.5 0.9]
                                     [--calibrations 2] [--probes] [--repeats 1] [--witness]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from loadtests.schedule import window_of
from loadtests.target.cores import place
from loadtests.target.launch import start_service
from sim.report.formatting import GENERATOR_BUSY
from sim.results.compare import predict
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "flash-sale.yaml"
STEADY = ['drill.window=["20:15","20:25"]', "drill.compress=5"]
"""Ten steady minutes (no flash sale, no outage) replayed in two."""
MIN_REQUESTS = 200
LOAD_EVERY_S = 5.0
WITNESS_RATE = 50.0
"""The lone client's requests per second (exponential gaps: it samples the target's time
average, as a Poisson arrival does)."""
WITNESS_BUSY = 0.25
"""The witness's requests count in seconds when the service is busy over this share of its
core (the drill's load, not its planning before or its graceful stop after)."""


@contextmanager
def load_watch(phase: str, seen: dict[str, list[float]]) -> Iterator[None]:
    """Sample the 1-minute load average every LOAD_EVERY_S while ``phase`` runs."""
    samples = seen.setdefault(phase, [])
    done = threading.Event()

    def sample() -> None:
        while not done.wait(LOAD_EVERY_S):
            samples.append(os.getloadavg()[0])

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        samples.append(os.getloadavg()[0])


class Witness:
    """A lone client beside a drill: product pages over one kept-alive connection at
    WITNESS_RATE a second, from this process's idle thread (so on the load generator's core,
    in a process of its own), each timed, and the service's CPU read every second.

    A drill's latency is counted from each request's intended start, in a Locust process busy
    up to 80% of a core near the target's ceiling: what its own loop makes a request wait
    (sending late, reading late, sending in bursts) is in the figure. The witness waits for
    none of that — only for the target, the network and its own turn on the shared core (a
    thread woken from sleep) — and adds 50 requests a second (2-3% of those drills). A failed
    request (an error status, a dropped connection) is counted, not timed, and the connection
    opened again."""

    def __init__(self, url: str, service_pid: int):
        parts = urlsplit(url)
        self.host, self.port, self.pid = parts.hostname or "127.0.0.1", parts.port, service_pid
        self.latencies: list[tuple[float, float]] = []
        self.cpu: list[tuple[float, float]] = []
        self.failed = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Witness:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        rng = random.Random(0)
        client = http.client.HTTPConnection(self.host, self.port, timeout=30)
        client.request("GET", "/")
        sku = json.loads(client.getresponse().read())["skus"][0]
        next_cpu = 0.0
        while not self._done.wait(rng.expovariate(WITNESS_RATE)):
            sent = time.perf_counter()
            try:
                client.request("GET", f"/products/{sku}")
                response = client.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                client.close()  # the next request opens it again
                ok = False
            now = time.perf_counter()
            if ok:
                self.latencies.append((now, now - sent))
            else:
                self.failed += 1
            if now >= next_cpu:
                self.cpu.append((now, self._cpu_seconds()))
                next_cpu = now + 1.0
        client.close()

    def p95_ms(self) -> tuple[float, int]:
        """The witness's p95 (ms) over the seconds the service was busy, and its count."""
        busy = [(a, b) for (a, ca), (b, cb) in zip(self.cpu, self.cpu[1:], strict=False)
                if (cb - ca) / (b - a) > WITNESS_BUSY]
        seen = sorted(x for t, x in self.latencies if any(a <= t < b for a, b in busy))
        return (seen[int(0.95 * (len(seen) - 1))] * 1000 if seen else float("nan")), len(seen)


def peakday(*args: str) -> int:
    print("$ peakday " + " ".join(args), flush=True)
    return subprocess.call([sys.executable, "-m", "peakday", *args])


def calibrate(url: str, out: Path, step: float, first_rate: float, probes: bool) -> dict:
    status = peakday("calibrate", str(SCENARIO), "--target", url, "--out", str(out),
                     "--step", f"{step:g}", "--first-rate", f"{first_rate:g}",
                     "--max-steps", "10", *(["--probes"] if probes else []))
    if status != 0:
        sys.exit(f"calibrate failed (exit {status})")
    return json.loads((out / "calibration.json").read_text())["fit"]


def scale_for(load: float, saturation: float, overlay: Path) -> float:
    """drill.scale at which the calibrated model sends `load` x the saturation throughput."""
    # The window's rate: the graceful stop's requests are not the load the drill holds.
    probe = load_scenario(SCENARIO, [*STEADY, "drill.scale=0.01", "drill.graceful_stop=0s"],
                          [overlay])
    per_scale = sum(e["throughput"] for e in predict(probe, window_of(probe))["endpoints"]
                    .values()) / 0.01
    return load * saturation / per_scale


def pin(server: int) -> None:
    """The service on a core of its own, as the self-tests place it (loadtests/target/cores.py);
    this process, and so the load generator it starts, on the others."""
    placement = place(server)
    if placement is None:
        return
    os.sched_setaffinity(0, placement.generator)
    print(f"pinned: the service on core {placement.service[0]}, the load generator on "
          f"{', '.join(map(str, placement.generator))}", flush=True)


def judge(comparison: dict) -> list[tuple[str, dict, dict, bool]]:
    """(endpoint, throughput row, p95 row, within both limits) per judged endpoint."""
    rows = {(r["figure"], r["endpoint"]): r for r in comparison["rows"] if r["phase"] == "all"}
    verdicts = []
    for (figure, endpoint), row in rows.items():
        if figure != "throughput" or endpoint == "all" or row.get("requests", 0) < MIN_REQUESTS:
            continue
        p95 = rows[("latency p95", endpoint)]
        verdicts.append((endpoint, row, p95, abs(row["relative_error"]) <= 0.10
                         and abs(p95["relative_error"]) <= 0.25))
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=15.0)
    parser.add_argument("--first-rate", type=float, default=20.0)
    parser.add_argument("--loads", type=float, nargs="+", default=[0.5, 0.9])
    parser.add_argument("--calibrations", type=int, choices=(1, 2), default=2,
                        help="1: skip B (no repeatability figure; saves ~4 minutes)")
    parser.add_argument("--probes", action="store_true", help="calibrate with --probes")
    parser.add_argument("--repeats", type=int, default=1,
                        help="drills per load (the target's own run-to-run spread)")
    parser.add_argument("--witness", action="store_true",
                        help="one more drill per load with a lone client timing the target")
    parser.add_argument("--no-pin", action="store_true",
                        help="leave the service and the load generator to the scheduler")
    args = parser.parse_args()
    loads: dict[str, list[float]] = {}
    out = ROOT / "results" / f"bench-calibration-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    out.mkdir(parents=True)
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        service = start_service(f"sqlite:///{Path(scratch) / 'checkout.db'}", SCENARIO,
                                "--reset", log=Path(scratch) / "serve.log")
        if not args.no_pin:
            pin(service.process.pid)
        try:
            fits = []
            for name in "AB"[:args.calibrations]:
                with load_watch(f"calibration {name}", loads):
                    fits.append(calibrate(service.url, out / name, args.step, args.first_rate,
                                          args.probes))
            overlay = out / "A" / "calibration.yaml"
            if not fits[0]["saturation_throughput"]:
                sys.exit("A never saturated")
            results = []
            witnessed = []
            for load in args.loads:
                scale = scale_for(load, fits[0]["saturation_throughput"], overlay)
                runs = [*range(1, args.repeats + 1), *(["witness"] if args.witness else [])]
                for run in runs:
                    folder = out / f"drill-{load:g}" / f"run-{run}"
                    command = ["drill", str(SCENARIO), "--target", service.url, "--overlay",
                               str(overlay), *(x for s in [*STEADY, f"drill.scale={scale:.5f}"]
                                               for x in ("--set", s)), "--out", str(folder)]
                    with load_watch(f"drill at {load:.0%}", loads):
                        if run == "witness":
                            with Witness(service.url, service.process.pid) as witness:
                                peakday(*command)
                        else:
                            peakday(*command)
                    figures = [json.loads((folder / name).read_text())
                               for name in ("comparison.json", "drill.json")]
                    if run == "witness":
                        witnessed.append((load, witness.p95_ms(), witness.failed, *figures))
                    else:
                        results.append((load, run, scale, *figures))
        finally:
            service.stop()
    print(f"load average after: {os.getloadavg()}\n")
    print("1-minute load average per phase (min / mean / max of samples every 5 s):")
    for phase, samples in loads.items():
        print(f"  {phase:15s} {min(samples):5.2f} / {sum(samples) / len(samples):5.2f} / "
              f"{max(samples):5.2f}")
    print("\ndemands (ms)      A        B     B/A-1")
    for endpoint, a in fits[0]["endpoints"].items():
        b = fits[-1]["endpoints"][endpoint]
        print(f"  {endpoint:9s} {a['demand_s'] * 1000:7.3f}  {b['demand_s'] * 1000:7.3f}  "
              f"{b['demand_s'] / a['demand_s'] - 1:+6.1%}")
    for name, f in zip("AB"[:len(fits)], fits, strict=True):
        ceiling = (f"saturation {f['saturation_throughput']:.1f}/s, concurrency "
                   f"{f['concurrency']:.2f}" if f["saturation_throughput"] else "not saturated")
        print(f"  {name}: {ceiling} -> workers {f['workers']}, CPU/request "
              f"{(f['cpu_demand_s'] or 0) * 1000:.2f} ms; saturated steps kept busy: "
              + ", ".join(f"{b['mix']} {b['busy']:.0%}" for b in f.get("busy", [])))
    for load, run, scale, comparison, drill in results:
        busy = (drill.get("load_generator") or {}).get("busy")
        modelled = next((r["predicted"] for r in comparison["rows"]
                         if r["figure"] == GENERATOR_BUSY), None)
        print(f"\ndrill at {load:.0%} of saturation (drill.scale={scale:.4f}), run {run}; "
              f"load generator busy {'?' if busy is None else f'{busy:.0%}'} of a core"
              + ("" if modelled is None else f" (model: {modelled:.0%})") + ":")
        print("  endpoint   throughput/s predicted observed   err   p95 ms predicted observed"
              "    err   ok")
        for endpoint, x, p95, ok in judge(comparison):
            print(f"  {endpoint:9s} {x['predicted']:22.1f} {x['observed']:8.1f} "
                  f"{x['relative_error']:+6.1%} {p95['predicted']:17.1f} {p95['observed']:8.1f} "
                  f"{p95['relative_error']:+6.1%}   {'yes' if ok else 'NO'}")
        for row in comparison["rows"]:
            if row["figure"] == "CPU per request (ms)":
                print(f"  the target's CPU per request: model {row['predicted']:.3f} ms, drill "
                      f"{row['observed']:.3f} ms ({row['relative_error']:+.1%})")
    if args.repeats > 1:
        spread(results)
    for load, (p95, count), failed, comparison, drill in witnessed:
        row = next(r for r in comparison["rows"] if r["figure"] == "latency p95"
                   and r["endpoint"] == "product" and r["phase"] == "all")
        print(f"\nwitness at {load:.0%}: a lone client's product p95 {p95:.1f} ms ({count} "
              f"requests while the service was busy, {failed} failed), the drill's "
              f"{row['observed']:.1f} ms, "
              f"predicted {row['predicted']:.1f} ms; load generator busy "
              f"{(drill.get('load_generator') or {}).get('busy', 0):.0%}")
    print(f"\nresults: {out}")


def spread(results: list[tuple]) -> None:
    """Per load and endpoint, the observed p95 over the repeated drills: the target's own
    run-to-run spread, against which a prediction's error can be read."""
    print("\nthe target's own spread: observed p95 ms over identical drills (max / min)")
    for load in dict.fromkeys(r[0] for r in results):
        seen: dict[str, list[float]] = {}
        for _, _, _, comparison, _ in (r for r in results if r[0] == load):
            for endpoint, _, p95, _ in judge(comparison):
                seen.setdefault(endpoint, []).append(p95["observed"])
        print(f"  at {load:.0%}: " + "; ".join(
            f"{e} {min(v):.1f}-{max(v):.1f} (x{max(v) / min(v):.1f})" for e, v in seen.items()))


if __name__ == "__main__":
    main()
