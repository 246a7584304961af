"""``peakday size``: the cheapest server and staffing plan meeting the SLOs, hour by hour.

Servers first (:mod:`sim.sizing.servers`), then agents with that server plan fixed
(:mod:`sim.sizing.agents`: the platform shapes the contacts support receives). Writes
``sizing.json``, ``plan.yaml``, ``report.html`` and the pre-scaling exports
(``prescale.csv``, ``prescale-keda.yaml``: :mod:`sim.sizing.prescale`) atomically into the
results folder.
Exit status: 0 the plan meets every SLO; 1 no plan within ``sizing.servers.max`` (or the
agents' cap) meets them — the best plan is still written, and the failing intervals are
named with by how much; 2 bad input.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..cli import common
from ..cli.common import (
    ExecutorKind,
    ExecutorOption,
    OverlayOption,
    SchedulerOption,
    SetOption,
    flag,
)

if TYPE_CHECKING:
    import numpy as np

    from ..executors import Executor
    from ..scenario import Scenario
    from .work import Days


def size(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Scenario file.")],
    replications: Annotated[int | None, typer.Option(
        min=1, help="Replications per candidate plan (default: sizing.replications).")] = None,
    jobs: Annotated[int | None, typer.Option(
        min=1, help="Processes (default: all cores, or one per replication up to four per "
                    "core).")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<run-id>).")]
    = None,
    executor: ExecutorOption = ExecutorKind.local,
    scheduler: SchedulerOption = None,
    deployment: Annotated[str, typer.Option(
        help="Kubernetes deployment the KEDA pre-scaling export scales.")] = "checkout",
    quiet: Annotated[bool, flag("--quiet", "-q", help="Print only the results path.")]
    = False,
    as_json: Annotated[bool, flag("--json", help="Print sizing.json to stdout.")]
    = False,
    overrides: SetOption = None,
    overlays: OverlayOption = None,
) -> None:
    """Find the fewest instances per interval and agents per interval that meet the SLOs."""
    import time

    from ..executors import ExecutorError, default_jobs, open_executor
    from ..results.folders import RESULTS, ResultsError, json_bytes, prepare_output, run_id
    from ..results.folders import write_atomically as write
    from ..run import replication_seeds
    from .agents import size_agents
    from .plan import Sizing, apply_command, document, plan_yaml
    from .prescale import keda_yaml, prescale_csv
    from .progress import search_progress
    from .report import render
    from .servers import size_servers
    from .work import sizes_agents, with_plan

    scenario = common.load_or_exit(ctx, file, overrides, overlays)
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", deployment):
        raise common.bad_input([f"--deployment {deployment!r}: not a Kubernetes name (lower-case "
                         "letters, digits and '-', at most 63)"])
    problem = nothing_to_size(scenario)
    if problem:
        raise common.bad_input([f"{file}: {problem}"])
    directory = out or RESULTS / f"{run_id(scenario.name)}-size"
    try:
        prepare_output(directory)
    except ResultsError as exc:
        raise common.bad_input([str(exc)]) from None
    count = replications or scenario.sizing.replications
    seeds = replication_seeds(scenario.seed, count)
    started = time.monotonic()
    agents = None
    with search_progress(enabled=not (quiet or as_json)) as progress:
        try:
            workers = jobs or default_jobs(count)
            with open_executor(executor.value, workers, scheduler) as runner, \
                    days(scenario, seeds, runner, executor.value, workers) as simulations:
                servers = size_servers(scenario, simulations, count, progress)
                if sizes_agents(scenario):
                    streams = [r.contacts for r in servers.final_results
                               if r.contacts is not None]
                    agents = size_agents(with_plan(scenario, servers.plan), seeds, runner,
                                         streams=streams, held_out=held_out(scenario, count),
                                         progress=progress.agents)
        except ExecutorError as exc:
            raise common.bad_input([str(exc)]) from None
    changes = tuple([*(word for path in overlays or [] for word in ("--overlay", str(path))),
                     *(word for value in overrides or [] for word in ("--set", value))])
    sizing = Sizing(scenario, servers, agents, count, changes)
    sizing_json = document(sizing)
    files = {"sizing.json": json_bytes(sizing_json), "plan.yaml": plan_yaml(sizing),
             "prescale.csv": prescale_csv(sizing_json),
             "prescale-keda.yaml": keda_yaml(sizing_json, deployment)}
    try:
        write(directory, {**files, "report.html": render(sizing, sizing_json)})
    except ResultsError as exc:
        raise common.bad_input([str(exc)]) from None
    if as_json:
        sys.stdout.write(files["sizing.json"].decode())
    elif quiet:
        common.console.print(str(directory), markup=False)
    else:
        _print(sizing_json, directory, time.monotonic() - started, servers.forked_days,
               apply_command(sizing, str(file), str(directory / "plan.yaml")))
    if not sizing.met:
        raise typer.Exit(1)


@contextlib.contextmanager
def days(scenario: Scenario, seeds: list[np.random.SeedSequence], runner: Executor,
         kind: str, jobs: int) -> Iterator[Days]:
    """Where the server search's days run: forked where the plans part on this machine (where
    ``os.fork`` exists), whole days on a cluster."""
    from . import forks
    from .work import Simulations

    if kind == "local" and forks.available():
        with forks.ForkedSimulations(scenario, seeds, jobs) as forked:
            yield forked
    else:
        yield Simulations(scenario, seeds, runner)


def held_out(scenario: Scenario, count: int) -> list[np.random.SeedSequence]:
    """Seeds of the days the agents are confirmed on: the replications after the search's
    own (``count`` of them), so no day is both searched on and confirmed on."""
    from ..run import replication_seeds

    days = scenario.sizing.agents.confirm_days
    days = count if days is None else days
    return replication_seeds(scenario.seed, count + days)[count:]


def nothing_to_size(scenario: Scenario) -> str | None:
    """Why the scenario cannot be sized, or ``None``."""
    slo = scenario.slo
    if slo is None or (not slo.latency_p99 and slo.error_rate >= 1):
        return ("nothing to size: the scenario has no platform SLO "
                "(slo.latency_p99 or slo.error_rate)")
    per = scenario.sizing.servers.per
    if per % 3600:
        return (f"sizing.servers.per is {per:g}s; servers are sized per whole hours, as the "
                "SLO is judged (1h, 2h, ...)")
    if scenario.clock.duration > 86_400:
        return "peak-day sizing covers one day (clock.duration at most 24h)"
    return None


def _print(sizing: dict, directory: Path, wall_s: float, forked_days: float,
           apply: str) -> None:
    console = common.console
    if sizing["met"]:
        console.print("[bold green]A plan that meets every SLO[/]:")
    else:
        console.print("[bold red]No plan within the limits meets every SLO[/]; the best one:")
    for line in sizing["what_to_do"]:
        console.print(f"  {line}", markup=False)
    servers, own = sizing["servers"], sizing["scenario_plan"]
    agents = sizing["agents"]
    agent_hours = (f" + {agents['paid_agent_hours']:,.0f} paid agent-hours" if agents
                   else "")
    own_met = own["servers_met"] and own["support_met"] is not False
    console.print(f"\nPlan: {servers['instance_hours']:,.1f} instance-hours{agent_hours}, "
                  f"cost {sizing['cost']:,.0f}; the scenario's own plan: "
                  f"{own['instance_hours']:,.1f} instance-hours + {own['agent_hours']:,.0f} "
                  f"agent-hours, cost {own['cost']:,.0f}, SLOs "
                  f"{'met' if own_met else 'not met'}.",
                  markup=False)
    search = servers["search"]
    forked = (f" ({forked_days:.1f} of them forked from checkpoints, not simulated again)"
              if forked_days else "")
    console.print(f"Search: {search['steps']} steps, {search['simulated_days']} simulated "
                  f"days (servers){forked}, {wall_s:.0f} s.", markup=False)
    confirmation = agents["confirmation"] if agents else None
    if confirmation:
        missed = confirmation["missed"]
        console.print(f"Agents confirmed on {confirmation['days']} held-out days: "
                      + (f"{len(missed)} interval(s) missed there, sized again on all the days "
                         f"(+{confirmation['added_agent_hours']:g} agent-hours): "
                         + "; ".join(missed) if missed else "every interval met."),
                      markup=False)
    console.print(f"\nResults: {directory}/  (report: {directory / 'report.html'})\n"
                  f"Check the plan: {apply}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(size)
