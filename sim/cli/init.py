"""``peakday init [FILE]``: write a commented starter scenario, never over an existing file."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from .common import bad_input, console


def init(file: Annotated[Path, typer.Argument(help="Where to write it.")]
         = Path("scenario.yaml")) -> None:
    """Write a commented starter scenario (a small shop's 618) to edit and simulate."""
    text = resources.files("sim.scenario").joinpath("starter.yaml").read_bytes()
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise bad_input([f"{file}: already exists; init never writes over a file (give "
                         "another name: peakday init my-618.yaml)"]) from None
    except OSError as exc:
        raise bad_input([f"{file}: cannot write it: {exc.strerror}"]) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text)
    except OSError as exc:
        file.unlink(missing_ok=True)  # the file is ours (O_EXCL): nothing half-written stays
        raise bad_input([f"{file}: cannot write it: {exc.strerror}"]) from None
    console.print(f"Wrote {file}. Next: peakday validate {file}; peakday simulate {file}",
                  markup=False)


def register(app: typer.Typer) -> None:
    app.command()(init)
