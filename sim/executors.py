"""Where work units run: in this process, in local processes, or on a Dask cluster.

A work unit is a pure function of picklable arguments (one replication of a day, one sizing
candidate with one seed), so where it runs cannot change what it returns: results come back
in the order the units were given, and the same seed gives the same bytes on every executor.
``done(index)`` is called as each unit finishes, in whatever order they finish, for progress.

``dask`` runs the units on a Dask distributed cluster: the scheduler at ``scheduler``
(``tcp://host:8786``, started with ``dask scheduler`` and joined with ``dask worker``) or, with
no address, a ``LocalCluster`` of ``jobs`` single-threaded worker processes on this machine.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal, Protocol

EXECUTORS = ("local", "dask")
Kind = Literal["local", "dask"]
Done = Callable[[int], None]


class ExecutorError(Exception):
    """An executor that cannot start (a Dask scheduler that cannot be reached)."""


class Executor(Protocol):
    def map(self, unit: Callable[..., Any], arguments: Sequence[tuple],
            done: Done | None = None) -> list[Any]:
        """``unit(*args)`` for each argument tuple; results in the order given."""
        ...


class Inline:
    """Units one after the other in this process."""

    def map(self, unit: Callable[..., Any], arguments: Sequence[tuple],
            done: Done | None = None) -> list[Any]:
        results = []
        for index, args in enumerate(arguments):
            results.append(unit(*args))
            if done is not None:
                done(index)
        return results


class Processes:
    """Units in a pool of spawned processes (kept for the executor's lifetime)."""

    def __init__(self, pool: ProcessPoolExecutor):
        self.pool = pool

    def map(self, unit: Callable[..., Any], arguments: Sequence[tuple],
            done: Done | None = None) -> list[Any]:
        futures = [self.pool.submit(unit, *args) for args in arguments]
        index = {future: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            if done is not None:
                done(index[future])
        return [future.result() for future in futures]


class Dask:
    """Units as Dask futures on a distributed cluster."""

    def __init__(self, client: Any):
        self.client = client

    def map(self, unit: Callable[..., Any], arguments: Sequence[tuple],
            done: Done | None = None) -> list[Any]:
        from distributed import as_completed as completed

        futures = [self.client.submit(unit, *args, pure=False) for args in arguments]
        index = {future.key: i for i, future in enumerate(futures)}
        for future in completed(futures):
            if done is not None:
                done(index[future.key])
        return self.client.gather(futures)


def default_jobs(units: int) -> int:
    """Processes for ``units`` units of about equal length: every core, and one process per
    unit (up to four per core) when there are more units than cores. Rounds of one process per
    core leave cores idle in the last round — five replications on two cores take three
    day-lengths one round after the other, two and a half time-sliced by the OS."""
    cores = os.cpu_count() or 1
    return min(units, 4 * cores) if units > cores else cores


@contextlib.contextmanager
def open_executor(kind: Kind = "local", jobs: int | None = None,
                  scheduler: str | None = None) -> Iterator[Executor]:
    """An executor for the ``with`` block; processes and clusters are shut down after it."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    if kind == "dask":
        with _dask_client(jobs, scheduler) as client:
            yield Dask(client)
    elif jobs == 1:
        yield Inline()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            yield Processes(pool)


@contextlib.contextmanager
def _dask_client(jobs: int, scheduler: str | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a declared dependency
        raise ExecutorError("--executor dask needs the 'distributed' package") from None
    if scheduler is None:
        with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExecutorError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                            ) from None
    with client:
        yield client
