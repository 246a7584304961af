"""The drill's Locust process: local runner, master (with local workers) or worker.

Started by ``peakday drill`` as ``python -m loadtests.drill ROLE CONFIG.json`` so that Locust's
gevent monkey-patching stays out of the command's own process. Locust's own distributed mode
does the scaling: a master with N workers, on one host or many; each worker takes its share
of the schedule (``visit index % workers``) from the same plan, and reports its measurements
to the master in Locust messages.

The master (or the local runner) owns the time zero, the load shape, the caps (duration,
requests), the abort rule and the outage switches, and writes the results.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
import httpx
from locust import LoadTestShape, events
from locust.env import Environment
from locust.html import get_html_report
from locust.log import setup_logging
from locust.runners import Runner
from locust.stats import StatsCSV

from sim.behaviour.stock import conserved, oversold
from sim.results.folders import json_bytes, write_atomically
from sim.scenario import load_scenario
from sim.scenario.schema import GENERATOR_LIMIT, Scenario

from . import client_pool, collector
from .config import DrillConfig
from .recorder import Recorder, summarize, thresholds
from .schedule import Plan, build_plan
from .stops import Stop
from .target.launch import bearer
from .users import DrillState, Shopper, attach

SPAWN_RATE = 100
"""Users started per second (Locust warns above 100). Not faster: at 1,000 a second a drill
would start sooner (a drill at 90% of the reference service's ceiling holds 6,601 users: 66 s
of spawning), but the calibration of a known target then measured its demands ~5% high and
one worker too many (tests/test_calibrate.py), for a reason not yet found."""


def lead(plan: Plan) -> float:
    """Seconds from starting the users to the schedule's zero: the pool is up before it."""
    return 2.0 + plan.users / SPAWN_RATE


REPORT_EVERY = 2.0


class Control:
    """The master's (or local runner's) view of the drill's progress."""

    def __init__(self, plan: Plan, scenario: Scenario):
        self.plan = plan
        self.scenario = scenario
        self.started_at = time.time()
        self.t0 = self.started_at + lead(plan)
        self.stop: Stop | None = None
        self.stop_reason: str | None = None
        """``stop`` in words, for people."""
        self.stopped_at: float | None = None
        """When the load stopped (the drill's running time ends here, not at the write-up)."""
        self.reports: dict[str, dict] = {}
        """Worker id -> its latest report (distributed mode)."""
        self.local: DrillState | None = None

    def halt(self, stop: Stop, reason: str) -> None:
        self.stop, self.stop_reason = stop, reason

    def refused(self, reason: str) -> None:
        """A worker would not load the target (off its own allow-list): the drill stops."""
        self.halt(Stop.WORKER_REFUSED, f"aborted: a worker refused the target ({reason})")

    def idle(self) -> bool:
        if self.local is not None:
            return not self.local.visits and self.local.in_flight == 0
        return bool(self.reports) and all(
            r["remaining"] == 0 and r["in_flight"] == 0 for r in self.reports.values())

    def load_generator(self) -> dict[str, Any] | None:
        """The busiest load-generating process's share of a core over the load, and whether
        it reached GENERATOR_LIMIT (the drill measured its generator too); the fewest objects
        a process kept out of its collector (plan and users, see run()); None: no process
        said."""
        if self.local is not None:
            busy = self.local.busy(self.stopped_at or time.time())
            frozen: int | None = gc.get_freeze_count()
            users: int | None = self.local.users_frozen
        else:
            reports = self.reports.values()
            busy = max((r["busy"] for r in reports if r.get("busy") is not None), default=None)
            frozen = min((r["frozen"] for r in reports if "frozen" in r), default=None)
            users = min((r["users_frozen"] or 0 for r in reports if "users_frozen" in r),
                        default=None)
        return None if busy is None else {"busy": busy, "limited": busy >= GENERATOR_LIMIT,
                                          "frozen_objects": frozen, "users_frozen": users}

    def recorder(self) -> Recorder:
        if self.local is not None:
            return self.local.recorder
        merged = Recorder()
        for report in self.reports.values():
            merged.merge(report["snapshot"])
        return merged


def make_shape(control: Control) -> type[LoadTestShape]:
    plan, drill = control.plan, control.scenario.drill

    class DrillShape(LoadTestShape):
        """A constant pool of users until the schedule is done (or a cap or abort stops it)."""

        def tick(self):
            now = time.time()
            if control.stop is not None:
                return None
            if now > control.started_at + drill.max_duration:
                control.halt(Stop.DURATION_CAP, f"stopped at the {drill.max_duration:g} s cap "
                                                "(drill.max_duration)")
                return None
            past = now > control.t0 + plan.duration
            if past and control.idle():
                control.halt(Stop.COMPLETED, "schedule completed")
                return None
            if now > control.t0 + plan.duration + drill.graceful_stop:
                control.halt(Stop.GRACEFUL_STOP,
                             f"schedule completed; visits still walking were stopped after "
                             f"drill.graceful_stop ({drill.graceful_stop:g} s)")
                return None
            return plan.users, SPAWN_RATE

    return DrillShape


def _monitor(env: Environment, control: Control, config: DrillConfig) -> None:
    """Once a second: the request cap, the abort rule, and outage switches on the target."""
    drill = control.scenario.drill
    history: deque[tuple[float, int, int]] = deque()
    outages = _outage_switches(control) if config.admin_token else []
    while control.stop is None:
        gevent.sleep(1.0)
        now = time.time()
        total = env.stats.total
        history.append((now, total.num_requests, total.num_failures))
        if total.num_requests >= drill.max_requests:
            control.halt(Stop.REQUEST_CAP, f"stopped at the {drill.max_requests:,} request cap")
            break
        while history and history[0][0] < now - drill.abort.for_:
            history.popleft()
        if now - control.t0 >= drill.abort.for_ and len(history) > 1:
            requests = history[-1][1] - history[0][1]
            failures = history[-1][2] - history[0][2]
            if requests >= 20 and failures / requests > drill.abort.error_rate:
                control.halt(Stop.ERROR_RATE_ABORT,
                             f"aborted: error rate {failures / requests:.0%} over the last "
                             f"{drill.abort.for_:g} s (limit {drill.abort.error_rate:.0%}, "
                             "drill.abort)")
                break
        while outages and outages[0][0] <= now - control.t0:
            _, rates = outages.pop(0)
            _switch_outages(config, rates)


def _outage_switches(control: Control) -> list[tuple[float, dict[str, float]]]:
    """(real second, failure rates to set) for each outage edge inside the drill window."""
    payments = control.scenario.payments
    if payments is None:
        return []
    plan, clock = control.plan, control.scenario.clock
    edges: dict[float, dict[str, float | None]] = {}
    for outage in payments.outages:
        opens, closes = clock.window(outage.from_, outage.to)
        for at, rate in ((opens, outage.failure_rate), (closes, None)):
            real = max(0.0, (at - plan.window[0]) / plan.compress)
            if real <= plan.duration:
                edges.setdefault(real, {})[outage.channel] = rate
    switches: list[tuple[float, dict[str, float]]] = []
    active: dict[str, float] = {}
    for real in sorted(edges):
        for channel, rate in edges[real].items():
            if rate is None:
                active.pop(channel, None)
            else:
                active[channel] = rate
        switches.append((real, dict(active)))
    return switches


def _switch_outages(config: DrillConfig, rates: dict[str, float]) -> None:
    # On failure the drill goes on; the payment figures will show the outage did not apply.
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{config.target}/admin/outages", json={"failure_rates": rates},
                   headers=bearer(config.admin_token or ""), timeout=5)


def _server_check(config: DrillConfig) -> dict | None:
    """Stock as the server holds it after the drill (self-test): oversell is checked there."""
    if not config.admin_token:
        return None
    reply = httpx.get(f"{config.target}/admin/stock", timeout=10,
                      headers=bearer(config.admin_token))
    stock = reply.json()
    return {"stock": stock,
            "oversold": {sku: oversold(f["initial"], f["reserved"], f["sold"])
                         for sku, f in stock.items()},
            "conserved": all(conserved(f["initial"], f["available"], f["reserved"], f["sold"])
                             for f in stock.values())}


def _locust_files(env: Environment) -> dict[str, bytes]:
    stats = StatsCSV(env, [0.5, 0.95, 0.99])
    files = {}
    for name, writer in (("locust_stats.csv", stats.requests_csv),
                         ("locust_failures.csv", stats.failures_csv)):
        buffer = io.StringIO()
        writer(csv.writer(buffer))
        files[name] = buffer.getvalue().encode()
    files["locust.html"] = get_html_report(env, show_download_link=False).encode()
    return files


def _start_workers(config: DrillConfig, path: Path) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "loadtests.drill", "worker", str(path)])
            for _ in range(config.workers)]


def run(role: str, path: Path) -> int:
    config = DrillConfig(**json.loads(path.read_text()))
    if config.cores:  # before any thread or worker process starts: they inherit it
        os.sched_setaffinity(0, config.cores)
    setup_logging("WARNING")
    scenario = load_scenario(config.scenario, config.overrides, config.overlays)
    plan = build_plan(scenario, config.seed)
    state = DrillState(scenario, plan, extra_hosts=tuple(config.allow_hosts))
    # The plan (every session of the window), the scenario and then the pool of users (up
    # before the schedule's zero, lead()) live as long as the drill: walked by each full
    # collection, they stopped the generator 194 ms (up to 453) every ~8 s, and every request
    # in flight and every session due meanwhile waited that long (collector.py).
    prepare_generator(state)
    if role == "worker":
        return _work(config, state)
    refused = state.refusal(config.target)
    if refused:  # launch_drill checked it already: this is the last line of defence
        print(refused.told("--target", "add --allow-host {host}"), file=sys.stderr)
        return 2
    control = Control(plan, scenario)
    env = Environment(user_classes=[Shopper], shape_class=make_shape(control)(),
                      host=config.target, events=events)
    attach(env, state)
    workers: list[subprocess.Popen] = []
    runner: Runner
    if role == "local":
        runner = env.create_local_runner()
        control.local = state
        state.take(0, 1, control.t0)
    else:
        master = env.create_master_runner("*" if config.expect_workers else "127.0.0.1",
                                          config.master_port)
        runner = master
        master.register_message("peakday_report", lambda msg, **_: control.reports.update(
            {msg.node_id: msg.data}))
        runner.register_message("peakday_refused",
                                lambda msg, **_: control.refused(msg.data["reason"]))
        workers = _start_workers(config, path)
        expected = config.workers or config.expect_workers
        deadline = time.time() + 60
        while len(master.clients.ready) < expected and time.time() < deadline:
            gevent.sleep(0.2)
        if len(master.clients.ready) < expected:
            print(f"only {len(master.clients.ready)} of {expected} workers connected",
                  file=sys.stderr)
            master.quit()
            return 2
        control.started_at = time.time()
        control.t0 = control.started_at + lead(plan)
        master.send_message("peakday_start", {"t0": control.t0,
                                              "workers": len(master.clients.ready)})
    monitor = gevent.spawn(_monitor, env, control, config)
    try:
        runner.start_shape()
        assert runner.shape_greenlet is not None  # start_shape spawned it
        runner.shape_greenlet.join()
    except KeyboardInterrupt:
        control.halt(Stop.INTERRUPTED, "interrupted (Ctrl-C)")
    finally:
        control.stopped_at = time.time()
        state.load_stopped()
        runner.stop()
        if workers:
            _collect_final(control, len(workers) or config.expect_workers)
        runner.quit()
        monitor.kill()
        for worker in workers:
            worker.wait(timeout=30)
    _write(config, control, env, plan, scenario)
    return 0


def prepare_generator(state: DrillState) -> None:
    """What every load-generating process of a drill does once its plan is built (run(), and
    the plain locustfile): its collector settled (the plan frozen now, the users once up:
    collector.py) and its connection pool made fit for thousands of connections
    (client_pool.py)."""
    collector.settle_generator()
    client_pool.install()
    events.spawning_complete.add_listener(lambda **_: _freeze_users(state))


def _freeze_users(state: DrillState) -> None:
    """Once, when the pool is up: its users live as long as the drill (collector.py). Not
    again (users rebalanced after a worker is lost): that would freeze what is in flight."""
    if state.users_frozen is None:
        before = gc.get_freeze_count()
        collector.freeze()
        state.users_frozen = gc.get_freeze_count() - before


def _collect_final(control: Control, expected: int) -> None:
    deadline = time.time() + 10
    while time.time() < deadline and not (
            len(control.reports) >= expected and all(r["final"] for r in control.reports.values())):
        gevent.sleep(0.1)


def _work(config: DrillConfig, state: DrillState) -> int:
    env = Environment(user_classes=[Shopper], host=config.target, events=events)
    attach(env, state)
    runner = env.create_worker_runner(config.master_host, config.master_port)
    refused: list[str] = []

    def check_host(environment: Environment, **_kwargs) -> None:
        """The master names the host (in its spawn message): refuse one off this worker's
        allow-list before any user starts, and leave the master."""
        reason = state.refusal(environment.host)
        if reason:
            refused.append(str(reason))
            print(reason.told("worker: the master's target",
                              "add --allow-host {host} to this worker to drill it"),
                  file=sys.stderr)
            runner.send_message("peakday_refused", {"reason": str(reason)})
            gevent.spawn(runner.quit)

    def start(msg, **_kwargs) -> None:
        state.take(runner.worker_index, msg.data["workers"], msg.data["t0"])

    def report(final: bool) -> None:
        runner.send_message("peakday_report", {
            "snapshot": state.recorder.snapshot(), "remaining": len(state.visits),
            "in_flight": state.in_flight, "final": final, "busy": state.busy(time.time()),
            "frozen": gc.get_freeze_count(), "users_frozen": state.users_frozen})

    finished: list[bool] = []
    """Set once the final report is sent: no periodic one replaces it at the master."""

    def reporter() -> None:
        while not finished:
            gevent.sleep(REPORT_EVERY)
            if state.t0 is not None and not finished:
                report(False)

    def final(**_kwargs) -> None:
        finished.append(True)
        report(True)

    runner.register_message("peakday_start", start)
    events.test_start.add_listener(check_host)
    # test_stopping fires before Locust stops the users (thousands: their teardown is not the
    # load's CPU), test_stop after.
    events.test_stopping.add_listener(lambda **_: state.load_stopped())
    events.test_stop.add_listener(final)
    loop = gevent.spawn(reporter)
    runner.greenlet.join()
    loop.kill()
    return 2 if refused else 0


def _write(config: DrillConfig, control: Control, env: Environment, plan: Plan,
           scenario: Scenario) -> None:
    real = max(0.0, (control.stopped_at or time.time()) - control.t0)
    measured = summarize(control.recorder(), plan, scenario, min(real, plan.duration))
    checks = thresholds(scenario, measured)
    server = _server_check(config)
    oversold = sum(server["oversold"].values()) if server else 0
    document = {
        "scenario": scenario.name,
        "target": config.target,
        "window": [scenario.clock.label(plan.window[0]), scenario.clock.label(plan.window[1])],
        "compress": plan.compress,
        "scale": plan.scale,
        "seed": scenario.seed if config.seed is None else config.seed,
        "users": plan.users,
        "workers": config.workers or config.expect_workers,
        "planned_duration_s": round(plan.duration, 2),
        "ran_s": round(real, 2),
        "stop": control.stop,
        "stopped_because": control.stop_reason or "stopped",
        "load_generator": control.load_generator(),
        **measured,
        "thresholds": checks,
        "server": server,
        **config.extra,
    }
    aborted = control.stop is not None and control.stop.aborted
    document["passed"] = (all(c["passed"] for c in checks) and not aborted and oversold == 0)
    # The target's admin token stays out of the results folder, which users share.
    shown = {**asdict(config), "admin_token": "(withheld)" if config.admin_token else None}
    files = {"drill.json": json_bytes(document), "config.json": json_bytes(shown),
             **_locust_files(env)}
    write_atomically(Path(config.out), files)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], Path(sys.argv[2])))
