"""Replications: independent seeded runs of the day, in parallel, merged into one summary.

Replication ``i`` always gets child ``i`` of ``SeedSequence(seed)``, whichever process runs it
and in whatever order, and results are merged in replication order: the same seed gives the
same bytes whatever ``jobs`` is. Figures over several replications carry a confidence
interval at the scenario's ``sizing.confidence`` (Student t over the replication means).
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .executors import Executor, default_jobs
from .metrics import Histogram
from .model.day import simulate_day
from .model.observer import Observation
from .scenario.schema import Scenario

Progress = Callable[[int, float], None]
"""Called with (replication index, simulated seconds done)."""


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(replications)


def mean_ci(values: list[float], confidence: float,
            future: int | None = None) -> tuple[float, float, float]:
    """Mean and the two ends of its Student-t interval at ``confidence`` (the scenario's
    ``sizing.confidence``: no level is assumed here, so no figure is silently at 95%).

    With ``future``, the ends of the *prediction* interval of the mean of that many further
    replications: where another run of ``future`` days (``simulate --check`` with another
    seed) will find its mean, the spread of that mean added to the estimate's own.
    """
    array = np.asarray(values, dtype=float)
    mean = float(np.mean(array))
    if len(array) < 2:
        return mean, mean, mean
    spread = 1 / len(array) + (1 / future if future else 0.0)
    half = float(stats.t.ppf((1 + confidence) / 2, len(array) - 1)
                 * np.std(array, ddof=1) * math.sqrt(spread))
    return mean, mean - half, mean + half


@dataclass
class RunResult:
    """The replications of one scenario, in order."""

    scenario: Scenario
    seed: int
    observations: list[Observation]

    def pooled(self, pick: Callable[[Observation], Histogram | None]) -> Histogram:
        """One histogram of all replications together (for SLO checks and plots)."""
        total = Histogram()
        for obs in self.observations:
            hist = pick(obs)
            if hist is not None:
                total.merge(hist)
        return total


def run(scenario: Scenario, replications: int = 1, seed: int | None = None,
        jobs: int | None = None, progress: Progress | None = None,
        executor: Executor | None = None) -> RunResult:
    """Run ``replications`` independent days; ``jobs`` processes (default: all cores), or the
    units on ``executor`` (a Dask cluster: progress then moves a replication at a time)."""
    seed = scenario.seed if seed is None else seed
    seeds = replication_seeds(seed, replications)
    jobs = max(1, min(jobs or default_jobs(replications), replications))
    if executor is not None:
        end = scenario.clock.duration
        observations = executor.map(simulate_day, [(scenario, s) for s in seeds],
                                    None if progress is None else lambda i: progress(i, end))
    elif jobs == 1:
        observations = [
            simulate_day(scenario, s, _bind(progress, i)) for i, s in enumerate(seeds)
        ]
    else:
        observations = _parallel(scenario, seeds, jobs, progress)
    return RunResult(scenario, seed, observations)


def _bind(progress: Progress | None, index: int) -> Callable[[float], None] | None:
    if progress is None:
        return None
    return lambda now: progress(index, now)


def _parallel(scenario: Scenario, seeds: list[np.random.SeedSequence], jobs: int,
              progress: Progress | None) -> list[Observation]:
    """Replications in worker processes; progress flows back through a managed queue."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        updates = manager.Queue() if progress is not None else None
        stop = threading.Event()
        pump = None
        if progress is not None and updates is not None:
            pump = threading.Thread(target=_pump, args=(updates, progress, stop), daemon=True)
            pump.start()
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [pool.submit(_replicate, scenario, s, i, updates)
                           for i, s in enumerate(seeds)]
                return [f.result() for f in futures]
        finally:
            stop.set()
            if pump is not None:
                pump.join()


def _replicate(scenario: Scenario, seed: np.random.SeedSequence, index: int,
               updates: queue.Queue | None) -> Observation:
    report = None if updates is None else (lambda now: updates.put((index, now)))
    return simulate_day(scenario, seed, _every_ten_minutes(report))


def _every_ten_minutes(report: Callable[[float], None] | None) -> Callable[[float], None] | None:
    """Thin out progress messages crossing process boundaries."""
    if report is None:
        return None
    return lambda now: report(now) if now % 600 < 60 else None


def _pump(updates: queue.Queue, progress: Progress, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            index, now = updates.get(timeout=0.1)
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return
        progress(index, now)

