"""Forked days (sim/sizing/forks.py): a day resumed from a checkpoint with another plan measures
to the bit what a whole day of that plan does, and the processes go when the sizing is done."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from multiprocessing.connection import Client
from pathlib import Path

import pytest

from sim.model.day import DayRun
from sim.run import replication_seeds
from sim.scenario import load_scenario
from sim.sizing.forks import ForkedSimulations, _quit, available
from sim.sizing.work import instance_schedule, simulate_plan, with_plan

ROOT = Path(__file__).resolve().parents[1]
SHOP_FILE = ROOT / "scenarios" / "small-shop.yaml"
SHOP = load_scenario(SHOP_FILE,
                     ["sizing.servers.per=6h"])
H = 6 * 3600
"""The sizing interval: four a day."""

pytestmark = pytest.mark.skipif(not available(), reason="needs os.fork")


def transferred(measured: object) -> bytes:
    """The bytes of ``measured`` as another process's answer has them: pickled once on the
    way (a fresh object's pickle may share its parts differently, not its values)."""
    return pickle.dumps(pickle.loads(pickle.dumps(measured)))


def test_a_paused_and_replanned_day_is_the_day_started_with_that_plan():
    seed = replication_seeds(SHOP.seed, 1)[0]
    day = DayRun(with_plan(SHOP, (2, 2, 2, 2)), seed)
    day.advance(2 * H - 180)  # the launch for 12:00 is still to come
    assert day.capacity is not None
    day.capacity.replan(instance_schedule(SHOP, (2, 2, 5, 1)))
    resumed = day.finish()
    whole = DayRun(with_plan(SHOP, (2, 2, 5, 1)), seed).finish()
    assert pickle.dumps(resumed) == pickle.dumps(whole)
    assert resumed.counters["instance_hours"] != DayRun(
        with_plan(SHOP, (2, 2, 2, 2)), seed).finish().counters["instance_hours"]


def test_a_step_already_begun_cannot_be_replanned():
    day = DayRun(with_plan(SHOP, (2, 2, 2, 2)), replication_seeds(SHOP.seed, 1)[0])
    day.advance(2 * H)
    assert day.capacity is not None
    with pytest.raises(ValueError, match=r"step 2 .* already begun"):
        day.capacity.replan(instance_schedule(SHOP, (2, 2, 3, 2)))


def test_forked_days_measure_what_whole_days_do_and_leave_nothing_behind():
    seeds = replication_seeds(SHOP.seed, 2)
    cut = 2 * H + 1.0  # just after 12:00 (the second interval's last minute closed)
    tests = [(None, None), ((2, 2, 2, 2), None), ((2, 2, 4, 4), None), ((2, 2, 4, 1), None),
             ((2, 3, 4, 1), cut), ((1, 1, 1, 1), None), ((2, 3, 4, 1), None)]
    forked = ForkedSimulations(SHOP, seeds, jobs=2)
    folder = forked.folder
    got, starts = [], []
    with forked:
        for plan, until in tests:
            got += forked.run([(plan, r, until) for r in range(2)], pauses=[1, 2, 3])
            starts.append(forked.resumed)
    expected = [simulate_plan(SHOP, plan, seeds[r], until) for plan, until in tests
                for r in range(2)]
    assert [pickle.dumps(m) for m in got] == [transferred(m) for m in expected]
    # Per replication: (2,2,4,4) starts from the 11:57 checkpoint of (2,2,2,2), (2,2,4,1) from
    # the 17:57 one of (2,2,4,4), (2,3,4,1) cut at 12:00 from the 05:57 one, leaving one at
    # 11:57 that the whole (2,3,4,1) starts from; None and (1,1,1,1) fresh.
    assert starts == [0, 0, 2, 4, 6, 6, 8]
    assert forked.skipped == 2 * ((2 * H - 180) + (3 * H - 180) + (H - 180) + (2 * H - 180))
    cut_day = got[8]
    assert cut_day.requests[1] > 0 and cut_day.requests[2:] == [0, 0]
    assert cut_day.contacts is None and got[12].contacts is not None
    assert not os.path.exists(folder)


def test_a_checkpoint_whose_process_is_gone_is_passed_over():
    seeds = replication_seeds(SHOP.seed, 1)
    with ForkedSimulations(SHOP, seeds, jobs=1) as forked:
        forked.run([((2, 2, 2, 2), 0, None)], pauses=[2])
        (point,) = [p for p in forked.points[0] if p.interval]
        _quit(point.path)  # as if it had been killed
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and reachable(point.path):
            time.sleep(0.05)
        got = forked.run([((2, 2, 3, 3), 0, None)], pauses=[])
        assert forked.resumed == 0 and point not in forked.points[0]
    assert pickle.dumps(got[0]) == transferred(simulate_plan(SHOP, (2, 2, 3, 3), seeds[0]))


def reachable(path: str) -> bool:
    try:
        Client(path, family="AF_UNIX").close()
    except OSError:
        return False
    return True


KILLED = """
import sys
from sim.run import replication_seeds
from sim.scenario import load_scenario
from sim.sizing.forks import ForkedSimulations

if __name__ == "__main__":
    shop = load_scenario(sys.argv[1], ["sizing.servers.per=6h"])
    with ForkedSimulations(shop, replication_seeds(shop.seed, 2), jobs=2) as forked:
        print(forked.folder, *[root.pid for root in forked.roots], flush=True)
        forked.run([((2, 2, 2, 2), 0, None), ((2, 2, 2, 2), 1, None)], pauses=[1, 2, 3])
        forked.run([((2, 2, 3, 3), 0, None), ((2, 2, 3, 3), 1, None)], pauses=[2, 3])
"""


def test_a_killed_sizing_leaves_no_process_and_no_folder_behind(tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    sizing = subprocess.Popen([sys.executable, str(script), str(SHOP_FILE)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    folder, *roots = sizing.stdout.readline().split()  # type: ignore[union-attr]
    time.sleep(1.5)  # the first days are running, leaving checkpoints
    sizing.kill()
    sizing.wait()
    sizing.stdout.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (os.path.exists(folder) or any(map(alive, roots))):
        time.sleep(0.2)
    assert not any(map(alive, roots))
    assert not os.path.exists(folder)


def alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True
