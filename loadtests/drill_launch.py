"""``peakday drill`` outside Locust: checks, the self-test service, the Locust child, the verdict.

Everything that can refuse a drill happens here, before a single request is sent: the
scenario is valid, the target's host is allowed, a master is not asked to wait for no one.
Then the Locust side runs in a child process (loadtests/drill.py) and this process reads its
``drill.json`` and prints the verdict.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sim.report import render_drill_report, write_report
from sim.report.formatting import comparison_value, fmt
from sim.results.compare import compare
from sim.results.folders import (
    RESULTS,
    ResultsError,
    add_files,
    json_bytes,
    prepare_output,
    run_id,
)
from sim.scenario.schema import Scenario

from . import probe
from .config import DrillConfig
from .safety import AllowList, UnsafeTarget, check_target
from .schedule import window_of
from .target.cores import place
from .target.launch import SERVICE_HOST, free_port, start_service


@dataclass(frozen=True)
class DrillOptions:
    """What ``peakday drill`` was asked for, as typed (the scenario itself is loaded apart)."""

    file: Path
    """The scenario file: the Locust child and the self-test service load it again."""
    overrides: list[str] = field(default_factory=list)
    overlays: list[Path] = field(default_factory=list)
    target: str | None = None
    self_test: bool = False
    allow_hosts: list[str] = field(default_factory=list)
    """Hosts allowed besides the scenario's drill.allowed_hosts (--allow-host)."""
    workers: int = 0
    """Local Locust workers under one master (0: a single process)."""
    master: bool = False
    expect_workers: int = 0
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    seed: int | None = None
    out: Path | None = None
    force: bool = False
    pin: bool = True
    """--self-test: the service and the load generator on cores apart (target/cores.py)."""


def launch_drill(scenario: Scenario, options: DrillOptions, console: Console) -> int:
    """Run the drill ``options`` ask for; the exit status (0 passed, 1 failed, 2 refused)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if options.worker:  # the master names the target: the worker checks it against its list
        return locust_process("worker", DrillConfig(
            str(options.file), options.overrides, "", "", options.seed,
            master_host=options.master_host, master_port=options.master_port,
            overlays=[str(o) for o in options.overlays], allow_hosts=options.allow_hosts))
    try:
        target = _checked_target(scenario, options)
    except Refused as exc:
        err.print(str(exc), markup=False)
        return 2
    directory = options.out or RESULTS / run_id(f"{scenario.name}-drill")
    try:
        prepare_output(directory, force=options.force)
    except ResultsError as exc:
        err.print(str(exc), markup=False)
        return 2
    config = DrillConfig(
        str(options.file), options.overrides, target, str(directory),
        options.seed, workers=options.workers,
        expect_workers=options.expect_workers if options.master else 0,
        master_port=options.master_port if options.master else free_port(),
        overlays=[str(o) for o in options.overlays], allow_hosts=options.allow_hosts)
    status, cpu_s = _run_locust(scenario, options, config, console)
    if status != 0:
        err.print(f"the drill's Locust process failed (exit {status})", markup=False)
        return 2
    _compare(scenario, directory, options.seed, cpu_s)
    write_report(directory, render_drill_report((directory / "drill.json").read_bytes(),
                                                comparison=(directory / "comparison.json")
                                                .read_bytes()))
    return _verdict(directory, console)


class Refused(Exception):
    """Options that cannot make a drill; the message is the one line the user sees."""


def _checked_target(scenario: Scenario, options: DrillOptions) -> str:
    """The target as the drill will use it ("" for --self-test, whose service is started
    later), checked against the allow-list before anything starts; :class:`Refused` if the
    options cannot make a drill."""
    if options.self_test == (options.target is not None):
        raise Refused("give exactly one of --target URL and --self-test")
    if options.master and options.expect_workers < 1:
        raise Refused("--master needs --expect-workers N (the workers it waits for)")
    if options.target is None:
        return ""
    try:
        return check_target(options.target,
                            AllowList(scenario.drill.allowed_hosts, options.allow_hosts))
    except UnsafeTarget as exc:
        raise Refused(exc.told("--target", "add --allow-host {host} to drill it "
                                           "deliberately")) from None


def _run_locust(scenario: Scenario, options: DrillOptions, config: DrillConfig,
                console: Console) -> tuple[int, float | None]:
    """The Locust child's exit status and the target's CPU seconds over it; with --self-test,
    against a reference checkout started on a loopback port for the drill (on a core of its
    own unless --no-pin) and stopped after it, whatever happens."""
    role = "master" if (options.workers or options.master) else "local"
    # A master's workers on other machines may yet refuse the target: nothing goes to it
    # before they accept it, not even a read of its CPU.
    read_cpu = not options.master
    if not options.self_test:
        return _measured(role, config, read_cpu)
    with tempfile.TemporaryDirectory(prefix="peakday-selftest-") as scratch:
        service = start_service(
            f"sqlite:///{Path(scratch) / 'checkout.db'}", options.file, "--reset",
            "--stock-scale", str(scenario.drill.scale),
            *(x for o in options.overrides for x in ("--set", o)),
            *(x for o in options.overlays for x in ("--overlay", str(o))),
            log=Path(scratch) / "serve.log")
        try:
            placement = place(service.process.pid, options.workers) if options.pin else None
            config.target, config.admin_token = service.url, service.token
            config.allow_hosts = [*options.allow_hosts, SERVICE_HOST]
            config.cores = placement.generator if placement else []
            config.extra = {"self_test": {"service": service.url,
                                          "stock_scale": scenario.drill.scale,
                                          "cores": asdict(placement) if placement else None}}
            console.print(f"Self-test: reference checkout on {service.url}"
                          + (f" (core {placement.service[0]}; the load generator on "
                             f"{_cores(placement.generator)})" if placement else ""),
                          markup=False)
            return _measured(role, config, read_cpu)
        finally:
            service.stop()


def _cores(cores: list[int]) -> str:
    return ("core " if len(cores) == 1 else "cores ") + ", ".join(map(str, cores))


def _measured(role: str, config: DrillConfig, read_cpu: bool) -> tuple[int, float | None]:
    """Run the Locust child; its exit status, and the CPU seconds the target spent beyond
    idle meanwhile (None when its /metrics does not say, or not ``read_cpu``: probe.py)."""
    if not read_cpu:
        return locust_process(role, config), None
    idle = probe.idle_rate(config.target)
    before, since = probe.metrics(config.target), time.monotonic()
    status = locust_process(role, config)
    return status, probe.cpu_between(before, probe.metrics(config.target), idle,
                                     time.monotonic() - since)


def _compare(scenario: Scenario, directory: Path, seed: int | None,
             cpu_s: float | None) -> None:
    """comparison.json: the model's prediction for the drill window beside the drill."""
    drill = json.loads((directory / "drill.json").read_text())
    comparison = compare(scenario, drill, window_of(scenario), seed, target_cpu_s=cpu_s)
    add_files(directory, {"comparison.json": json_bytes(comparison)})


def locust_process(role: str, config: DrillConfig) -> int:
    """Run one Locust process of a drill (``local``, ``master`` or ``worker``) to its end.

    Locust runs in a child of its own: gevent patches the interpreter it runs in, which the
    model, the report and the calibration fit must not share. Its exit status is returned.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(asdict(config), handle)
    path = Path(handle.name)
    process = subprocess.Popen([sys.executable, "-m", "loadtests.drill", role, str(path)])
    try:
        return process.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C: let it write its results
        return process.wait()
    finally:
        path.unlink(missing_ok=True)


def _verdict(directory: Path, console: Console) -> int:
    report = json.loads((directory / "drill.json").read_text())
    table = Table(title=Text(f"drill of {report['scenario']} against {report['target']}"),
                  show_header=True)
    for column in ("endpoint", "requests", "errors", "p50", "p99", "p99 (uncorrected)"):
        table.add_column(column, justify="right" if column != "endpoint" else "left")
    for name, e in report["endpoints"].items():
        table.add_row(Text(name), f"{e['requests']:,}", f"{e['errors']:,}", fmt(e["p50_ms"], "ms"),
                      fmt(e["p99_ms"], "ms"), fmt(e["p99_uncorrected_ms"], "ms"))
    console.print(table)
    sessions = report["sessions"]
    console.print(f"Sessions: {sessions['started']:,} of {sessions['scheduled']:,} scheduled "
                  f"started ({sessions['late']:,} late); fidelity (worst 10 s window) "
                  f"{report['fidelity']:.1%}; start lag p99 "
                  f"{fmt(report['start_lag_ms']['p99'], 'ms')}", markup=False)
    generator = report.get("load_generator")
    if generator and generator["limited"]:
        console.print(f"The load generator was busy {generator['busy']:.0%} of a core: its own "
                      "lateness is in these latencies (spread the load: --workers, or --master "
                      "with workers on other machines)", markup=False)
    for origin, n in report["redirects"]["not_followed"].items():
        why = ("not sent: off drill.allowed_hosts, or past 5 hops"
               if report["redirects"]["follow"] else "not followed: drill.follow_redirects is off")
        console.print(f"{n:,} answers were redirects to {origin} ({why}); counted as errors",
                      markup=False)
    for sku, seen in report["sold_out"].items():
        console.print(f"{sku} sold out (as shoppers saw it) at {seen['clock']} "
                      f"({seen['after_s']:.1f} s into the drill)", markup=False)
    comparison = json.loads((directory / "comparison.json").read_text())
    versus = Table(title="model vs drill (every phase and percentile: comparison.json, "
                         "report.html)", show_header=True)
    for column in ("figure", "of", "predicted", "observed", "error"):
        versus.add_column(column, justify="left" if column in ("figure", "of") else "right")
    for row in comparison["rows"]:
        if row["phase"] != "all" or row["figure"] in ("latency p50", "latency p99"):
            continue
        error = row["relative_error"]
        versus.add_row(row["figure"], Text(row.get("sku") or row["endpoint"]),
                       comparison_value(row["figure"], row["predicted"]),
                       comparison_value(row["figure"], row["observed"]),
                       "" if error is None else f"{error:+.0%}")
    console.print(versus)
    for note in comparison.get("notes", []):
        console.print(f"note: {note}", markup=False)
    if report.get("server"):
        console.print(f"Server stock after the drill: oversold "
                      f"{sum(report['server']['oversold'].values())}, conserved "
                      f"{report['server']['conserved']}", markup=False)
    for check in report["thresholds"]:
        mark = "pass" if check["passed"] else "FAIL"
        if check["metric"] == "latency_p99":
            console.print(f"  {mark}  {check['endpoint']} p99 {check['value_ms']:,.0f} ms "
                          f"(limit {check['limit_ms']:,.0f})", markup=False)
        else:
            console.print(f"  {mark}  error rate {check['value']:.2%} (limit "
                          f"{check['limit']:.2%})", markup=False)
    console.print(f"Stopped: {report['stopped_because']}. "
                  f"{'PASSED' if report['passed'] else 'FAILED'}. Results: {directory}/ "
                  f"(report: {directory / 'report.html'})", markup=False)
    return 0 if report["passed"] else 1
