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
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.compare import compare
from sim.report import render_drill_report, write_report
from sim.results import (
    RESULTS,
    ResultsError,
    add_files,
    json_bytes,
    prepare_output,
    run_id,
)
from sim.scenario.schema import Scenario

from .config import DrillConfig
from .safety import AllowList, UnsafeTarget, check_target
from .schedule import window_of
from .target.launch import SERVICE_HOST, free_port, start_service


def launch_drill(*, scenario: Scenario, file: Path, overrides: list[str], overlays: list[Path],
                 target: str | None,
                 self_test: bool, allow_hosts: list[str], workers: int, master: bool,
                 expect_workers: int, worker: bool, master_host: str, master_port: int,
                 seed: int | None, out: Path | None, force: bool, console: Console) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if worker:  # the master names the target: the worker checks it against its own list
        config = DrillConfig(str(file), overrides, "", "", seed, master_host=master_host,
                             master_port=master_port, overlays=[str(o) for o in overlays],
                             allow_hosts=allow_hosts)
        return _child("worker", config)
    if self_test == (target is not None):
        err.print("give exactly one of --target URL and --self-test", markup=False)
        return 2
    if master and expect_workers < 1:
        err.print("--master needs --expect-workers N (the workers it waits for)", markup=False)
        return 2
    if target is not None:
        try:
            target = check_target(target, AllowList(scenario.drill.allowed_hosts, allow_hosts))
        except UnsafeTarget as exc:
            err.print(exc.told("--target", "add --allow-host {host} to drill it deliberately"),
                      markup=False)
            return 2
    directory = out or RESULTS / run_id(f"{scenario.name}-drill")
    try:
        prepare_output(directory, force=force)
    except ResultsError as exc:
        err.print(str(exc), markup=False)
        return 2
    config = DrillConfig(str(file), overrides, target or "", str(directory), seed,
                         workers=workers, expect_workers=expect_workers if master else 0,
                         master_port=master_port if master else free_port(),
                         overlays=[str(o) for o in overlays], allow_hosts=allow_hosts)
    role = "master" if (workers or master) else "local"
    service = None
    try:
        if self_test:
            with tempfile.TemporaryDirectory(prefix="peakday-selftest-") as scratch:
                service = start_service(
                    f"sqlite:///{Path(scratch) / 'checkout.db'}", file, "--reset",
                    "--stock-scale", str(scenario.drill.scale),
                    *(x for pair in (("--set", o) for o in overrides) for x in pair),
                    *(x for pair in (("--overlay", str(o)) for o in overlays) for x in pair),
                    log=Path(scratch) / "serve.log")
                config.target, config.admin_token = service.url, service.token
                config.allow_hosts = [*allow_hosts, SERVICE_HOST]
                config.extra = {"self_test": {"service": service.url,
                                              "stock_scale": scenario.drill.scale}}
                console.print(f"Self-test: reference checkout on {service.url}", markup=False)
                status = _child(role, config)
                service.stop()
        else:
            status = _child(role, config)
    finally:
        if service is not None:
            service.stop()
    if status != 0:
        err.print(f"the drill's Locust process failed (exit {status})", markup=False)
        return 2
    _compare(scenario, directory, seed)
    write_report(directory, render_drill_report((directory / "drill.json").read_bytes(),
                                                comparison=(directory / "comparison.json")
                                                .read_bytes()))
    return _verdict(directory, console)


def _compare(scenario: Scenario, directory: Path, seed: int | None) -> None:
    """comparison.json: the model's prediction for the drill window beside the drill."""
    drill = json.loads((directory / "drill.json").read_text())
    comparison = compare(scenario, drill, window_of(scenario), seed)
    add_files(directory, {"comparison.json": json_bytes(comparison)})


def _child(role: str, config: DrillConfig) -> int:
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
    table = Table(title=f"drill of {report['scenario']} against {report['target']}",
                  show_header=True)
    for column in ("endpoint", "requests", "errors", "p50 ms", "p99 ms", "p99 ms (uncorr.)"):
        table.add_column(column, justify="right" if column != "endpoint" else "left")
    for name, e in report["endpoints"].items():
        table.add_row(name, f"{e['requests']:,}", f"{e['errors']:,}", _ms(e["p50_ms"]),
                      _ms(e["p99_ms"]), _ms(e["p99_uncorrected_ms"]))
    console.print(table)
    sessions = report["sessions"]
    console.print(f"Sessions: {sessions['started']:,} of {sessions['scheduled']:,} scheduled "
                  f"started ({sessions['late']:,} late); fidelity (worst 10 s window) "
                  f"{report['fidelity']:.1%}; start lag p99 {_ms(report['start_lag_ms']['p99'])} "
                  f"ms", markup=False)
    for origin, n in report["redirects"]["not_followed"].items():
        why = ("not sent: off drill.allowed_hosts, or past 5 hops"
               if report["redirects"]["follow"] else "not followed: drill.follow_redirects is off")
        console.print(f"{n:,} answers were redirects to {origin} ({why}); counted as errors",
                      markup=False)
    for sku, seen in report["sold_out"].items():
        console.print(f"{sku} sold out (as shoppers saw it) at {seen['clock']} "
                      f"({seen['after_s']:.1f} s into the drill)", markup=False)
    comparison = json.loads((directory / "comparison.json").read_text())
    for row in comparison["rows"]:
        if row["phase"] != "all" or row["figure"] in ("latency p50", "latency p99"):
            continue  # every phase and percentile is in comparison.json and the report
        error = row["relative_error"]
        console.print(f"Model vs drill: {row['figure']} {row.get('sku') or row['endpoint']}: "
                      f"predicted {row['predicted']}, observed {row['observed']}"
                      + ("" if error is None else f" ({error:+.0%})"), markup=False)
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


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"
