"""Results folders: nothing a user has is deleted or overwritten, nothing is left half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sim.results.folders import (
    MARKER,
    ResultsError,
    add_files,
    prepare_output,
    write_atomically,
    written_by_peakday,
)

from .conftest import ROOT, SCENARIOS
from .refusals import assert_refused, snapshot
from .test_estimate import QUIET


def test_a_new_or_empty_folder_is_fine(tmp_path):
    assert prepare_output(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists(), "the probe leaves nothing behind"
    (tmp_path / "empty").mkdir()
    prepare_output(tmp_path / "empty")
    write_atomically(tmp_path / "empty", {"a.json": b"{}"})
    assert (tmp_path / "empty" / "a.json").read_bytes() == b"{}"
    assert written_by_peakday(tmp_path / "empty") == {"a.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"], "no temporary folders"


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_of_the_users_is_never_replaced(tmp_path, force):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("do not lose me")
    before = snapshot(tmp_path)
    with pytest.raises(ResultsError, match=r"not empty|not a folder peakday wrote"):
        prepare_output(mine, force=force)
    with pytest.raises(ResultsError, match=r"notes.txt, which peakday did not write"):
        write_atomically(mine, {"summary.json": b"{}"})
    assert snapshot(tmp_path) == before


def test_a_file_is_never_replaced(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file")
    for force in (False, True):
        with pytest.raises(ResultsError, match=r"exists and is not a folder"):
            prepare_output(blocker, force=force)
    with pytest.raises(ResultsError, match=r"exists and is not a folder"):
        write_atomically(blocker, {"a": b""})
    with pytest.raises(ResultsError, match=r"cannot write results: .* is not a folder"):
        prepare_output(blocker / "run")
    assert blocker.read_text() == "a file"


def test_force_replaces_only_a_folder_peakday_wrote_and_nothing_else(tmp_path):
    run = write_atomically(tmp_path / "run", {"summary.json": b"1", "report.html": b"old"})
    with pytest.raises(ResultsError, match=r"--force replaces it"):
        prepare_output(run)
    prepare_output(run, force=True)
    write_atomically(run, {"summary.json": b"2"})
    assert sorted(p.name for p in run.iterdir()) == [MARKER, "summary.json"]
    assert (run / "summary.json").read_bytes() == b"2"
    (run / "my-notes.md").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(ResultsError, match=r"my-notes.md, which peakday did not write"):
        prepare_output(run, force=True)
    with pytest.raises(ResultsError, match=r"my-notes.md"):
        write_atomically(run, {"summary.json": b"3"})
    assert snapshot(tmp_path) == before


def test_a_forged_or_broken_marker_is_not_peakdays(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "data.csv").write_text("1,2\n")
    for marker in (b"not json", b"[]", b'{"written_by": "someone"}',
                   b'{"written_by": "peakday", "files": "data.csv"}'):
        (folder / MARKER).write_bytes(marker)
        assert written_by_peakday(folder) is None
        with pytest.raises(ResultsError, match=r"not a folder peakday wrote"):
            prepare_output(folder, force=True)
    assert (folder / "data.csv").read_text() == "1,2\n"


def test_added_files_never_replace_the_users(tmp_path):
    run = write_atomically(tmp_path / "run", {"drill.json": b"{}"})
    add_files(run, {"comparison.json": b"{}", "report.html": b"<html>"})
    assert written_by_peakday(run) == {"drill.json", "comparison.json", "report.html"}
    add_files(run, {"report.html": b"<html>new"})
    assert (run / "report.html").read_bytes() == b"<html>new"
    (run / "figure.png").write_bytes(b"the user's own")
    with pytest.raises(ResultsError, match=r"figure.png: exists and peakday did not write it"):
        add_files(run, {"figure.png": b"png", "report.html": b"<html>newer"})
    assert (run / "figure.png").read_bytes() == b"the user's own"
    assert (run / "report.html").read_bytes() == b"<html>new", "nothing written at all"


INTERRUPTED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from sim.results import folders

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it

    real = Path.write_bytes
    written = []

    def write_then_interrupt(self, data):
        real(self, data)
        written.append(self.name)
        if len(written) == 2:  # a real Ctrl-C, delivered by the OS mid-write
            os.kill(os.getpid(), signal.SIGINT)

    Path.write_bytes = write_then_interrupt
    target = Path(sys.argv[1])
    files = {f"file{i}.csv": b"x" * 1000 for i in range(5)}
    try:
        getattr(folders, sys.argv[2])(target, files)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
""")


@pytest.mark.parametrize("function", ["write_atomically", "add_files"])
@pytest.mark.parametrize("existing", [False, True])
def test_ctrl_c_while_writing_leaves_no_temporary_files(tmp_path, function, existing):
    target = tmp_path / "run"
    if existing or function == "add_files":
        write_atomically(target, {"summary.json": b"old"})
    before = snapshot(tmp_path)
    done = subprocess.run([sys.executable, "-c", INTERRUPTED, str(target), function],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 130, done.stderr
    after = snapshot(tmp_path)
    hidden = [name for name in after if Path(name).name.startswith(".") and
              Path(name).name != MARKER]
    assert hidden == [], "no .tmp/.old left behind"
    if function == "write_atomically":
        assert after == before, "the old folder (or none) is back, untouched"
    else:
        assert (target / "summary.json").read_bytes() == b"old"
        assert set(json.loads((target / MARKER).read_bytes())["files"]) >= {
            name for name in os.listdir(target) if name != MARKER}, \
            "whatever got written is listed: --force can still replace the folder"


def test_drill_out_never_replaces_what_the_user_has(runner, tmp_path):
    from peakday.cli import app

    out = tmp_path / "mine"
    out.mkdir()
    (out / "drill.json").write_text('{"mine": true}')
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["drill", str(SCENARIOS / "flash-sale.yaml"), "--target",
                                 "http://127.0.0.1:9", "--out", str(out)])
    assert_refused(result, str(out), "peakday does not replace it")
    assert snapshot(tmp_path) == before


PEAKDAY = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    if os.environ.get("INTERRUPT_AT_WRITE"):
        real = Path.write_bytes

        def write_then_interrupt(self, data):
            real(self, data)
            if ".tmp-" in self.parent.name:  # the results being written: a real Ctrl-C
                os.kill(os.getpid(), signal.SIGINT)

        Path.write_bytes = write_then_interrupt
    from peakday.cli import app
    app(sys.argv[1:], prog_name="peakday")
""")


def peakday(*args: str, interrupt_at_write: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if interrupt_at_write:
        env["INTERRUPT_AT_WRITE"] = "1"
    return subprocess.Popen([sys.executable, "-c", PEAKDAY, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ctrl_c_while_simulate_writes_keeps_the_old_results(tmp_path):
    old = write_atomically(tmp_path / "run", {"summary.json": b"{}"})
    before = snapshot(tmp_path)
    child = peakday("simulate", str(SCENARIOS / "flash-sale.yaml"), "--quiet", "--force",
                    "--out", str(old), *(x for o in QUIET for x in ("--set", o)),
                    interrupt_at_write=True)
    _, stderr = child.communicate(timeout=300)
    assert child.returncode not in (0, 2), stderr
    assert "Traceback" not in stderr
    assert snapshot(tmp_path) == before, "the old folder, whole; nothing hidden left"


def test_no_limit_lifts_the_limit_and_ctrl_c_stops_the_run_cleanly(tmp_path):
    out = tmp_path / "run"
    child = peakday("simulate", str(SCENARIOS / "small-shop.yaml"), "--no-limit", "--out",
                    str(out), "--set", "clock.duration=30000d")
    try:
        assert child.stderr is not None
        first = child.stderr.readline()
        assert first.startswith("Estimate: about 897 M sessions, 4.7 G requests"), first
        time.sleep(1.0)  # the refused run is under way
        child.send_signal(signal.SIGINT)
        _, rest = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode not in (0, 2), rest
    assert "Traceback" not in rest
    assert snapshot(tmp_path) == {}
