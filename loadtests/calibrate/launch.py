"""``peakday calibrate`` outside the command line: checks, the self-test service, the steps,
the fit, the files, the summary.

Everything that can refuse happens before the first request (one of --target/--self-test,
the allow-list, a writable results folder); everything the calibration writes is written at
the end in one atomic step: an interrupted or failed calibration leaves nothing behind.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.results.folders import ResultsError, json_bytes, prepare_output, write_atomically
from sim.scenario.schema import Scenario

from ..safety import AllowList, UnsafeTarget, check_target
from ..target.cores import place
from ..target.launch import start_service
from . import outputs, spread
from .fit import fit
from .profile import JOURNEY, Profile, requests_per_session
from .steps import CalibrationError, StepResult, run_profile


@dataclass
class Request:
    """What the command asked for."""

    scenario: Scenario
    file: Path
    overrides: list[str]
    overlays: list[Path]
    target: str | None
    self_test: bool
    allow_hosts: list[str]
    out: Path
    profile: Profile
    seed: int | None
    refit: Path | None = None
    """A calibration folder whose measured steps to fit again (no load is sent)."""
    quiet: bool = False
    as_json: bool = False
    pin: bool = True
    """--self-test: the service and the load generator on cores apart (target/cores.py)."""


def launch_calibration(ask: Request, console: Console) -> int:
    """Run the calibration; the exit status (0 done, 2 refused or impossible)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if [ask.self_test, ask.target is not None, ask.refit is not None].count(True) != 1:
        err.print("give exactly one of --target URL, --self-test and --refit DIR", markup=False)
        return 2
    try:
        target = (check_target(ask.target, AllowList(ask.scenario.drill.allowed_hosts,
                                                     ask.allow_hosts))
                  if ask.target is not None else None)
        prepare_output(ask.out)
        if ask.refit is not None:
            measured, steps = _measured(ask.refit)
            files = _files(ask, measured, steps)
        elif target is not None:
            files = _calibrate(ask, target, console)
        else:
            with tempfile.TemporaryDirectory(prefix="peakday-calibrate-") as scratch:
                service = start_service(
                    f"sqlite:///{Path(scratch) / 'checkout.db'}", ask.file, "--reset",
                    *(x for o in ask.overrides for x in ("--set", o)),
                    *(x for o in ask.overlays for x in ("--overlay", str(o))),
                    log=Path(scratch) / "serve.log")
                try:
                    placement = place(service.process.pid) if ask.pin else None
                    _say(ask, console, f"Self-test: reference checkout on {service.url}"
                         + (f" (core {placement.service[0]}; the load generator on the others)"
                            if placement else ""))
                    files = _calibrate(ask, service.url, console,
                                       placement.generator if placement else [])
                finally:
                    service.stop()
        write_atomically(ask.out, files)
    except UnsafeTarget as exc:
        err.print(exc.told("--target", "add --allow-host {host} to measure it deliberately"),
                  markup=False)
        return 2
    except (ResultsError, CalibrationError) as exc:
        err.print(str(exc), markup=False)
        return 2
    document = json.loads(files["calibration.json"])
    if ask.as_json:
        console.print_json(data={"out": str(ask.out), "fit": document["fit"],
                                 "residuals": document["residuals"]})
    elif not ask.quiet:
        _summary(document, ask.out, console)
    return 0


def _say(ask: Request, console: Console, text: str) -> None:
    if not (ask.quiet or ask.as_json):
        console.print(text, markup=False)


def _calibrate(ask: Request, target: str, console: Console, cores: list[int] | None = None
               ) -> dict[str, bytes]:
    def heard(step: StepResult) -> None:
        offered = step.sessions_per_s * requests_per_session(ask.scenario, step.mix)
        _say(ask, console, f"step {step.index}{'' if step.mix == JOURNEY else f' ({step.mix})'}"
                           f": offered {offered:,.0f} requests/s, completed "
                           f"{step.throughput:,.1f}/s{' (saturated)' if step.saturated else ''}"
                           + (f"; load generator busy {step.generator_busy:.0%} of a core"
                              if step.generator_bound else ""))

    steps = run_profile(ask.scenario, ask.file, ask.overrides, ask.overlays, target,
                        ask.allow_hosts, ask.profile, ask.seed, heard, cores)
    return _files(ask, target, steps)


def _measured(folder: Path) -> tuple[str, list[StepResult]]:
    """The target and the steps a calibration folder holds."""
    try:
        document = json.loads((folder / "calibration.json").read_text())
        # Fields with a default (a step's mix) may be missing from an older folder.
        steps = [StepResult(**{f.name: s[f.name] for f in fields(StepResult)
                               if f.init and (f.name in s or f.default is MISSING)})
                 for s in document["steps"]]
        target = document["target"]
    except (OSError, ValueError, KeyError, TypeError):
        steps, target = [], ""
    if not steps:
        raise CalibrationError(f"{folder}: no calibration steps here (calibration.json "
                               "written by peakday calibrate); measure with --target or "
                               "--self-test")
    return target, steps


def _files(ask: Request, target: str, steps: list[StepResult]) -> dict[str, bytes]:
    """The fit of ``steps`` and the files that hold it."""
    seed = ask.scenario.seed if ask.seed is None else ask.seed
    source = outputs.Source(ask.file, ask.overrides, ask.overlays, ask.scenario, seed)
    result = spread.tune(source, steps, fit(steps))
    rows = outputs.residuals(source, steps, result, ask.profile)
    points = outputs.curve(source, steps, result, ask.profile)
    title, png = outputs.figure(steps, rows, points, result)
    document = outputs.document(ask.scenario, target, ask.profile, steps, result, rows, points,
                                title)
    header = (f"peakday calibrate: the measured model of {target}\n"
              f"({ask.scenario.name}, {len(steps)} steps, "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Use: --overlay calibration.yaml")
    return {"calibration.yaml": outputs.overlay_yaml(outputs.overlay(result), header).encode(),
            "calibration.json": json_bytes(document), "calibration.png": png}


def _summary(document: dict, out: Path, console: Console) -> None:
    result: dict = document["fit"]
    table = Table(title=f"calibration of {document['target']}")
    for column in ("endpoint", "demand ms", "cv", "outside ms", "light-load mean ms"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, e in result["endpoints"].items():
        table.add_row(name + ("" if e["measured"] else " (assumed)"),
                      f"{e['demand_s'] * 1000:.2f}", f"{e['cv']:.2f}",
                      f"{e['outside_s'] * 1000:.2f}",
                      "–" if e["light_mean_ms"] is None else f"{e['light_mean_ms']:.2f}")
    console.print(table)
    console.print(_ceiling(result), markup=False)
    generator = result.get("generator_cpu_by_load") or {}
    if generator:
        ends = dict.fromkeys([min(generator, key=float), max(generator, key=float)])
        console.print("Load generator: " + " to ".join(
            f"{float(generator[load]) * 1000:.2f} ms of its core per request at "
            f"{float(load):,.0f} requests/s" for load in ends)
            + " (drills' predictions say how busy it will be)", markup=False)
    if result["busy"]:
        console.print("Saturated steps kept busy by the fitted demands: " + ", ".join(
            f"{b['mix']} {b['busy']:.0%}" for b in result["busy"]), markup=False)
    for note in result["notes"]:
        console.print(f"note: {note}", markup=False)
    console.print(document["figure"]["title"], markup=False)
    console.print(f"Results: {out}/ (use: --overlay {out / 'calibration.yaml'})", markup=False)


def _ceiling(result: dict) -> str:
    if result["saturation_throughput"] is None:
        return f"Workers: {result['workers']} (assumed: no step saturated the target)"
    return (f"Saturation: {result['saturation_throughput']:,.1f} requests/s; effective "
            f"concurrency {result['concurrency']:.2f} -> {result['workers']} worker(s); "
            f"mean CPU per request "
            + ("not exposed" if result["cpu_demand_s"] is None
               else f"{result['cpu_demand_s'] * 1000:.2f} ms"))

