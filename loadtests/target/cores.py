"""Cores apart for a target and its load generator on one machine (the self-tests).

A self-test measures a service and drives it from the same machine. Left to the scheduler, the
two take turns on the same cores and each one's latency carries the other's bursts: on the
2-core machine the README's figures come from, the reference service's p95 at ~760
requests/s moved 8-122 ms between identical drills; with the service on a core of its own and
Locust on the other, 16-18 ms. Locust's own advice is the same for any load test (the
generator must not compete with what it measures), so the self-tests place them apart
whenever the machine has a core for each.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Placement:
    """The cores the service runs on and the cores the load generator's processes run on."""

    service: list[int]
    generator: list[int]


def place(service_pid: int, generators: int = 1) -> Placement | None:
    """Put the service (process ``service_pid``, every thread of it) on this process's last
    allowed core and name the others for the load generator's ``generators`` processes; None,
    and nothing moved, when the cores are too few to give each process a core of its own (the
    scheduler then shares them, as before). The service's cores are read back from the
    kernel: what the drill records is what took effect."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 1 + max(1, generators):
        return None
    pin(service_pid, cores[-1:])
    return Placement(service=sorted(os.sched_getaffinity(service_pid)), generator=cores[:-1])


def pin(pid: int, cores: list[int]) -> None:
    """Every thread of process ``pid`` on ``cores`` (threads it starts later inherit the mask
    from the thread that starts them)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task.name), cores)
