"""Writing and reading ``results/<run>/``: never over anything a user has, never half-written.

Every command that writes a results folder (``simulate``, ``drill``, ``report``, and later
``size`` and ``calibrate``) goes through three functions here, in this order:

1. :func:`prepare_output` before the work starts: refuses (with a one-line
   :class:`ResultsError`) a path that is a file, a folder that is not empty (unless ``force``
   and the folder is one peakday wrote, see below), or a place that cannot be written, so a
   long run never ends in "cannot write" and never starts over someone's files.
2. :func:`write_atomically` with all the files at the end: they go into a hidden temporary
   folder beside the target, renamed into place in one step. A crash, a full disk or a Ctrl-C
   never leaves a half-written results folder, nor the temporary one.
3. :func:`add_files` for files added to a finished folder later (the drill's comparison and
   report, ``peakday report``'s re-rendering): each file replaced atomically.

How peakday knows its own folders: each one holds a :data:`MARKER` file (``.peakday``)
listing the files peakday put there. ``--force`` replaces a folder only when it holds that
marker and nothing the marker does not list: a folder into which a user dropped a file of
their own, or any folder peakday did not write, is never deleted, whatever the flags.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path("results")
MARKER = ".peakday"
"""The file naming what peakday wrote into a results folder (JSON: ``written_by``, ``files``)."""


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


# -- what is peakday's -------------------------------------------------------------------------
def written_by_peakday(directory: Path) -> set[str] | None:
    """The files peakday says it wrote into ``directory`` (from its marker), or None."""
    try:
        marker = json.loads((Path(directory) / MARKER).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("written_by") != "peakday":
        return None
    files = marker.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def _foreign(directory: Path) -> list[str]:
    """Entries of an existing folder that peakday did not write (all of them without a marker)."""
    ours = written_by_peakday(directory) or set()
    return sorted(entry.name for entry in directory.iterdir()
                  if entry.name != MARKER and not (entry.name in ours and entry.is_file()
                                                   and not entry.is_symlink()))


def _marker_bytes(files: set[str]) -> bytes:
    return json_bytes({"written_by": "peakday", "files": sorted(files)})


# -- before the run ----------------------------------------------------------------------------
def prepare_output(directory: Path, *, force: bool = False) -> Path:
    """Check, before any work, that a results folder can be written at ``directory``.

    Call it first in every command that writes a results folder, then hand all the files to
    :func:`write_atomically` at the end. Allowed: a path that does not exist yet (its
    parents are created at the end) or an empty folder. Refused with a one-line
    :class:`ResultsError`: a file (or anything but a folder) at the path or on the way to it;
    a folder that is not empty — unless ``force`` is given *and* the folder holds peakday's
    marker and nothing the marker does not list (then it is replaced, but only once the new
    results are whole); a place where nothing can be created (probed by creating and
    removing a hidden folder, so read-only disks and permissions are caught too).
    """
    directory = Path(directory)
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise ResultsError(f"{directory}: exists and is not a folder; peakday does not "
                           "replace it (give --out a new folder)")
    if directory.is_dir():
        _check_replaceable(directory, force)
    _probe(directory)
    return directory


def _check_replaceable(directory: Path, force: bool) -> None:
    try:
        entries = [e.name for e in directory.iterdir()]
    except OSError as exc:
        raise ResultsError(f"{directory}: cannot read the folder: {exc.strerror}") from None
    if not entries:
        return
    foreign = _foreign(directory)
    if not force:
        hint = ("--force replaces it" if not foreign and written_by_peakday(directory) is not None
                else "give --out a new folder")
        raise ResultsError(f"{directory}: exists and is not empty; peakday does not replace "
                           f"it ({hint})")
    if written_by_peakday(directory) is None:
        raise ResultsError(f"{directory}: not a folder peakday wrote (no {MARKER} marker); "
                           "--force replaces only those (give --out a new folder)")
    if foreign:
        raise ResultsError(f"{directory}: holds {_some(foreign)}, which peakday did not write; "
                           "--force replaces only folders holding nothing else")


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _probe(directory: Path) -> None:
    """Create and remove a hidden folder in the nearest existing ancestor of ``directory``."""
    ancestor = directory.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ResultsError(f"{directory}: cannot write results: {ancestor} is not a folder")
    probe = ancestor / f".{directory.name}.probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise ResultsError(f"{directory}: cannot write results: "
                           f"{exc.strerror or exc} ({ancestor})") from None


# -- at the end --------------------------------------------------------------------------------
@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Hold off Ctrl-C while a cleanup runs (a second Ctrl-C then arrives once it is done)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: pending.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


def write_atomically(directory: Path, files: dict[str, bytes]) -> Path:
    """Create ``directory`` holding exactly ``files`` (and the marker), all or nothing.

    An existing folder is replaced only when it is empty or holds nothing peakday did not
    write (:func:`prepare_output` has applied the stricter ``--force`` rule before the run);
    the old folder goes only after the new one is in place. On any failure or interrupt the
    temporary folder is removed and the old folder is back where it was.
    """
    directory = Path(directory)
    temporary = directory.parent / f".{directory.name}.tmp-{os.getpid()}"
    old = directory.parent / f".{directory.name}.old-{os.getpid()}"
    try:
        _write_folder(directory, temporary, old, files)
    except BaseException as exc:
        with _no_interrupt():
            shutil.rmtree(temporary, ignore_errors=True)
            if old.exists() and not directory.exists():
                old.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ResultsError(f"{directory}: cannot write results: "
                               f"{exc.strerror or exc}") from None
        raise
    return directory


def _write_folder(directory: Path, temporary: Path, old: Path, files: dict[str, bytes]) -> None:
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise ResultsError(f"{directory}: exists and is not a folder; peakday does not "
                           "replace it")
    if directory.is_dir() and (foreign := _foreign(directory)):
        raise ResultsError(f"{directory}: holds {_some(foreign)}, which peakday did not "
                           "write; nothing was replaced")
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary.mkdir()
    for name, content in files.items():
        (temporary / name).write_bytes(content)
    (temporary / MARKER).write_bytes(_marker_bytes(set(files)))
    if directory.exists():
        directory.rename(old)
    temporary.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def add_files(directory: Path, files: dict[str, bytes]) -> None:
    """Add or replace ``files`` in a folder peakday wrote, each atomically, ``report.html`` last.

    A file of the same name that peakday did not write (not in the folder's marker) is never
    replaced: that is a :class:`ResultsError` before anything is written. The marker lists
    the new files before they appear, so an interrupted call leaves a folder ``--force`` can
    still replace.
    """
    directory = Path(directory)
    ours = written_by_peakday(directory) or set()
    for name in files:
        path = directory / name
        if (path.exists() or path.is_symlink()) and name not in ours:
            raise ResultsError(f"{path}: exists and peakday did not write it (not in "
                               f"{MARKER}); move it away first")
    ordered = sorted(files, key=lambda name: name == "report.html")
    _replace(directory, MARKER, _marker_bytes(ours | set(files)))
    for name in ordered:
        _replace(directory, name, files[name])


def _replace(directory: Path, name: str, content: bytes) -> None:
    temporary = directory / f".{name}.tmp-{os.getpid()}"
    try:
        temporary.write_bytes(content)
        os.replace(temporary, directory / name)
    except BaseException as exc:
        with _no_interrupt():
            temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ResultsError(f"{directory / name}: cannot write it: "
                               f"{exc.strerror or exc}") from None
        raise

