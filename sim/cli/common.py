"""What every command shares: the consoles, the scenario options and the exit-2 rule.

Exit status: 0 success; 1 a run that completed but failed (``simulate --check``, a drill's
threshold); 2 bad input (scenario errors, unwritable or unreadable folders) — always a message,
one line per problem, never a traceback.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from ..scenario import Scenario

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
console = Console(highlight=False, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="PATH=VALUE",
                 help="Override a scenario value before validation, e.g. platform.instances=32 "
                      "(repeatable; applied after every --overlay)."),
]
OverlayOption = Annotated[
    list[Path] | None,
    typer.Option("--overlay", metavar="FILE",
                 help="Merge a partial scenario (a sizing plan.yaml, a calibration.yaml) onto "
                      "the scenario before validation (repeatable, in order)."),
]

SeedOption = Annotated[int | None, typer.Option(help="Seed, a whole number >= 0 (default: the "
                                                     "scenario's).")]


def flag(*names: str, help: str) -> Any:
    """A switch: its help shows no value (a flag takes none; Typer would print ``<bool>``)."""
    return typer.Option(*names, help=help, metavar="")


ForceOption = Annotated[bool, flag(
    "--force", help="Replace --out if it is a results folder peakday wrote and holds nothing "
                    "else (never any other folder or file).")]


def no_scenario_options(ctx: typer.Context, command: str) -> None:
    """Refuse ``--set``/``--overlay`` before a command that reads no scenario (silently
    ignoring them would leave the user believing they applied)."""
    obj = ctx.obj or {}
    if obj.get("overrides") or obj.get("overlays"):
        raise bad_input([f"{command} reads no scenario file: --set and --overlay apply to "
                         "validate, simulate, drill, serve and the other commands that read "
                         "one"])


def remember_scenario_options(ctx: typer.Context, overrides: list[str] | None,
                              overlays: list[Path] | None) -> None:
    """Keep ``--set``/``--overlay`` given before the command for the command to read."""
    ctx.obj = {"overrides": list(overrides or []), "overlays": list(overlays or [])}


def overrides_of(ctx: typer.Context, local: list[str] | None) -> list[str]:
    """``--set`` values given before the command, then after it."""
    return [*(ctx.obj or {}).get("overrides", []), *(local or [])]


def overlays_of(ctx: typer.Context, local: list[Path] | None) -> list[Path]:
    """``--overlay`` files given before the command, then after it."""
    return [*(ctx.obj or {}).get("overlays", []), *(local or [])]


def bad_input(lines: list[str]) -> typer.Exit:
    """Print each line to stderr; the exit (status 2) for the caller to raise."""
    for line in lines:
        err_console.print(line, markup=False)
    return typer.Exit(2)


def load_or_exit(ctx: typer.Context, path: Path, overrides: list[str] | None = None,
                 overlays: list[Path] | None = None) -> Scenario:
    """The validated scenario with every ``--overlay`` and ``--set`` applied, or the errors
    printed and exit status 2."""
    from ..scenario import ScenarioError, load_scenario
    from ..scenario.checks import override_warnings

    given = overrides_of(ctx, overrides)
    try:
        scenario = load_scenario(path, given, overlays_of(ctx, overlays))
    except ScenarioError as exc:
        raise bad_input(exc.errors) from None
    for warning in override_warnings(scenario, given):
        err_console.print(f"warning: {warning}", markup=False)
    return scenario


class ExecutorKind(StrEnum):
    """Where work units run (:mod:`sim.executors`)."""

    local = "local"
    dask = "dask"


ExecutorOption = Annotated[
    ExecutorKind,
    typer.Option("--executor",
                 help="Where replications run: local processes, or a Dask cluster "
                      "(--scheduler, else a LocalCluster of --jobs workers)."),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", metavar="ADDRESS",
                 help="Dask scheduler address (tcp://host:8786) for --executor dask."),
]


def seed_or_exit(seed: int | None) -> None:
    """A seed is what the scenario's ``seed`` may be: a whole number >= 0 (numpy's rule)."""
    if seed is not None and seed < 0:
        raise bad_input([f"--seed {seed}: a seed is a whole number >= 0"])


def output_or_exit(directory: Path, force: bool) -> Path:
    """:func:`~sim.results.folders.prepare_output`, its refusal in one line, exit status 2."""
    from ..results.folders import ResultsError, prepare_output

    try:
        return prepare_output(directory, force=force)
    except ResultsError as exc:
        raise bad_input([str(exc)]) from None
