"""Sizing's days forked where the plans part: a search step simulates only from the first hour
it may change.

The server search simulates the whole day for every candidate plan, yet after its first steps
the candidates differ only in a few intervals (the midnight rush, the flash-sale hour); the
hours before the first of them are the same hours, on the same seeds (common random numbers),
simulated again. A SimPy simulation cannot be copied in memory (its processes are
generators), but a process holding one can be forked by the OS: so while a day runs, it
pauses before each interval the search may still change (``warmup`` before it, when the
instances for it are launched), forks a copy that stays paused there — a *checkpoint* — and
runs on. A later plan that agrees with that day up to the interval starts from the checkpoint:
the checkpoint forks a runner, which gives the model's instance schedule the new plan's counts
from there on (``InstanceSchedule.replan``) and finishes the day. Pausing and replanning
process the same events in the same order as a day started with the new plan, so every
result is the same to the bit as a whole day's (tests/test_sizing_forks.py).

Processes: one *root* per replication, spawned with the scenario and that replication's seed,
starts fresh days; checkpoints are its descendants. Each listens on a Unix socket in a private
temporary folder and forks a runner per request; the runner answers on the request's
connection. Checkpoints that no later plan can start from are told to quit, and at most
:data:`KEPT` are kept per replication (memory: each holds its day as it was). Every process
exits when told to, or by itself within a second when the sizing process is gone.

Linux and other systems with ``os.fork`` only; elsewhere, and on a Dask cluster, every unit
is a whole day (:class:`~sim.sizing.work.Simulations`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import shutil
import signal
import socket
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, wait
from typing import NoReturn, cast

import numpy as np

from ..model.day import DayRun
from ..scenario.schema import Scenario
from .work import (
    Measured,
    Plan,
    Unit,
    instance_schedule,
    length,
    measure,
    sizes_agents,
    with_plan,
)

KEPT = 4
"""Checkpoints kept per replication (the least recently used beyond it quit)."""
IDLE = 1.0
"""Seconds between an idle process's checks that the sizing process is still there."""

Pause = tuple[float, str]
"""Simulated time to pause at, and the socket the checkpoint made there listens on."""


def available() -> bool:
    """Whether days can be forked here (``os.fork``)."""
    return hasattr(os, "fork")


@dataclass
class _Point:
    """A process a day can be started from: a root (``interval`` 0) or a checkpoint."""

    interval: int
    """The first interval whose count a run from here may still choose."""
    prefix: Plan
    """The counts of the intervals before it, fixed in this day."""
    path: str
    used: int = 0

    def fits(self, plan: Plan | None) -> bool:
        if self.interval == 0:
            return True
        return plan is not None and plan[:self.interval] == self.prefix


class ForkedSimulations:
    """The search's units on forked days (module doc); ``jobs`` days run at a time."""

    def __init__(self, scenario: Scenario, seeds: Sequence[np.random.SeedSequence], jobs: int):
        self.scenario, self.jobs = scenario, max(1, jobs)
        self.folder = tempfile.mkdtemp(prefix="peakday-forks-")
        self.points: list[list[_Point]] = []
        self.roots: list[multiprocessing.process.BaseProcess] = []
        self.clock = 0
        self.made = 0
        self.resumed = 0
        """Units started from a checkpoint."""
        self.skipped = 0.0
        """Simulated seconds not simulated again: the hours before each checkpoint used."""
        context = multiprocessing.get_context("spawn")
        try:
            for rep, seed in enumerate(seeds):
                path = os.path.join(self.folder, f"r{rep}")
                listener = _listen(path)
                root = context.Process(target=_root, args=(listener, scenario, seed, os.getpid()),
                                       daemon=True, name=f"peakday-day-{rep}")
                root.start()
                listener.close()
                self.roots.append(root)
                self.points.append([_Point(0, (), path)])
        except BaseException:
            self.close()
            raise

    def run(self, units: Sequence[Unit], done: Callable[[], None] | None = None,
            pauses: Sequence[int] = ()) -> list[Measured]:
        """Simulate every unit; each day also leaves a checkpoint before each interval of
        ``pauses`` it passes. Results in the order of ``units``."""
        results: list[Measured | None] = [None] * len(units)
        waiting = list(enumerate(units))
        running: dict[Connection, tuple[int, Unit, list[_Point]]] = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.jobs:
                    index, unit = waiting.pop(0)
                    conn, new = self._start(unit, pauses)
                    running[conn] = (index, unit, new)
                for ready in wait(list(running)):
                    conn = cast(Connection, ready)
                    index, (_plan, rep, _until), new = running.pop(conn)
                    measured, made = _receive(conn)
                    conn.close()
                    results[index] = measured
                    for point in new:
                        if point.path in made:
                            self._keep(rep, point)
                    if done is not None:
                        done()
        except BaseException:
            for conn in running:
                conn.close()
            raise
        return results  # type: ignore[return-value]

    def _start(self, unit: Unit, pauses: Sequence[int]) -> tuple[Connection, list[_Point]]:
        """Send ``unit`` to the latest point it can start from; the checkpoints it will make.

        A checkpoint that cannot be reached (its process gone: killed, out of memory) is
        dropped and the next best is asked; the root is the last resort."""
        plan, rep, until = unit
        end = length(self.scenario, unit)
        while True:
            point = max((p for p in self.points[rep]
                         if p.fits(plan) and self._paused_at(p.interval) < end),
                        key=lambda p: p.interval)
            try:
                conn = Client(point.path, family="AF_UNIX")
                break
            except OSError:
                if not point.interval:
                    raise ForkError(f"replication {rep}'s process is gone") from None
                self.points[rep].remove(point)
        self.clock += 1
        point.used = self.clock
        if point.interval:
            self.resumed += 1
            self.skipped += self._paused_at(point.interval)
        new: list[_Point] = []
        times: list[Pause] = []
        if plan is not None:
            for interval in sorted(set(pauses)):
                at = self._paused_at(interval)
                if interval > point.interval and 0 < at < end:
                    self.made += 1
                    path = os.path.join(self.folder, f"c{self.made}")
                    new.append(_Point(interval, plan[:interval], path))
                    times.append((at, path))
        conn.send(("run", plan, times, until))
        return conn, new

    def _paused_at(self, interval: int) -> float:
        """Where a day pauses for a checkpoint before ``interval``: when that interval's
        instances are launched (``InstanceSchedule``'s launch check, ``warmup`` ahead)."""
        scenario = self.scenario
        return interval * scenario.sizing.servers.per - scenario.platform.autoscaling.warmup

    def _keep(self, rep: int, point: _Point) -> None:
        """Add a checkpoint; the least recently used beyond :data:`KEPT` (and one the new one
        replaces: same interval, same prefix) quit."""
        self.clock += 1
        point.used = self.clock
        points = [p for p in self.points[rep]
                  if p.interval == 0 or (p.interval, p.prefix) != (point.interval, point.prefix)]
        gone = [p for p in self.points[rep] if p not in points]
        points.append(point)
        checkpoints = sorted((p for p in points if p.interval), key=lambda p: p.used)
        gone += checkpoints[:max(0, len(checkpoints) - KEPT)]
        self.points[rep] = [p for p in points if p not in gone]
        for old in gone:
            _quit(old.path)

    def close(self) -> None:
        """Every checkpoint and root quits; the folder is removed."""
        for points in self.points:
            for point in points:
                _quit(point.path)
        for root in self.roots:
            root.join(timeout=10)
            if root.is_alive():
                root.terminate()
                root.join()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.points, self.roots = [], []

    def __enter__(self) -> ForkedSimulations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ForkError(RuntimeError):
    """A forked day failed (its traceback is the message) or its process vanished."""


def _receive(conn: Connection) -> tuple[Measured, list[str]]:
    """A runner's answer: what its day measured and the checkpoints it made."""
    try:
        reply = conn.recv()
    except (EOFError, OSError):
        raise ForkError("a forked simulation ended without an answer") from None
    if reply[0] != "done":
        raise ForkError(reply[1])
    return reply[1], reply[2]


def _quit(path: str) -> None:
    with contextlib.suppress(OSError), Client(path, family="AF_UNIX") as conn:
        conn.send(("quit",))


def _listen(path: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    return listener


def _root(listener: socket.socket, scenario: Scenario, seed: np.random.SeedSequence,
          main: int) -> None:
    """A replication's root: each request starts a fresh day of its plan."""
    record = sizes_agents(scenario)
    watch = _Watch(main)
    _serve(listener, main, lambda plan: DayRun(with_plan(scenario, plan), seed, progress=watch,
                                               record_contacts=record), scenario)


def _serve(listener: socket.socket, main: int, start: Callable[[Plan | None], DayRun],
           scenario: Scenario) -> NoReturn:
    """Answer requests until told to quit (or the sizing process is gone): each ``run`` is a
    forked runner, so this process's day stays as it is."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # runners are reaped by the system
    while True:
        if not select.select([listener], [], [], IDLE)[0]:
            if not _alive(main):  # killed: nobody is left to remove the sockets
                path = listener.getsockname()
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    os.rmdir(os.path.dirname(path))  # the last one out
                os._exit(0)
            continue
        client, _ = listener.accept()
        conn = Connection(client.detach())
        try:
            message = conn.recv()
        except EOFError:
            conn.close()
            continue
        if message[0] == "quit":
            os._exit(0)
        if os.fork() == 0:
            listener.close()
            _, plan, pauses, until = message
            _run(conn, start, scenario, plan, pauses, until, main)
        conn.close()


def _run(conn: Connection, start: Callable[[Plan | None], DayRun], scenario: Scenario,
         plan: Plan | None, pauses: list[Pause], until: float | None, main: int) -> NoReturn:
    """A runner: the day of ``plan`` to its end (or ``until``), leaving a checkpoint at each
    pause."""
    status = 0
    try:
        day = start(plan)
        made = []
        for at, path in pauses:
            day.advance(at)
            listener = _listen(path)  # bound before the fork: requests can come at once
            if os.fork() == 0:
                conn.close()
                _serve(listener, main, _Replanned(day, scenario), scenario)
            listener.close()
            made.append(path)
        conn.send(("done", measure(scenario, day.finish(until)), made))
    except BaseException:
        status = 1
        with contextlib.suppress(OSError):
            conn.send(("failed", traceback.format_exc()))
    finally:
        os._exit(status)


@dataclass
class _Replanned:
    """How a checkpoint starts a day: its own (in the forked runner, a copy), replanned."""

    day: DayRun
    scenario: Scenario

    def __call__(self, plan: Plan | None) -> DayRun:
        assert plan is not None and self.day.capacity is not None
        self.day.capacity.replan(instance_schedule(self.scenario, plan))
        return self.day


@dataclass
class _Watch:
    """A day's per-minute hook: a runner whose sizing process is gone (killed, or stopped
    with Ctrl-C) stops within a simulated minute instead of finishing a day nobody reads."""

    main: int

    def __call__(self, _now: float) -> None:
        if not _alive(self.main):
            os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

