"""Writing and reading ``results/<run>/``, atomically.

All files of a run are written into a hidden temporary folder beside the target and renamed
into place in one step, so a crash, a Ctrl-C or a full disk never leaves a half-written
results folder for a script (or the report) to trip over.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path("results")


class ResultsError(Exception):
    """A results folder that cannot be read or written; the message says which file and why."""


def run_id(scenario_name: str, now: datetime | None = None) -> str:
    """``<scenario>-<UTC timestamp>``: sortable, unique per second, safe as a folder name."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', scenario_name)}-{stamp}"


def json_bytes(document: object) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False,
                       allow_nan=False) + "\n").encode()


def csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_atomically(directory: Path, files: dict[str, bytes]) -> Path:
    """Create (or replace) ``directory`` holding exactly ``files``, all or nothing."""
    directory = Path(directory)
    temporary = directory.parent / f".{directory.name}.tmp-{os.getpid()}"
    old = directory.parent / f".{directory.name}.old-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        temporary.mkdir()
        for name, content in files.items():
            (temporary / name).write_bytes(content)
        if directory.exists():
            directory.rename(old)
        temporary.rename(directory)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        if old.exists() and not directory.exists():
            old.rename(directory)
        raise ResultsError(f"{directory}: cannot write results: {exc.strerror or exc}") from None
    shutil.rmtree(old, ignore_errors=True)
    return directory


def check_writable(directory: Path) -> None:
    """Fail before a long run, not after it, when its results could not be written."""
    write_atomically(Path(directory).parent / f".{Path(directory).name}.probe", {})
    shutil.rmtree(Path(directory).parent / f".{Path(directory).name}.probe")
