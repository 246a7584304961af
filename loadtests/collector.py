"""Python's cycle collector in the serving process: tuned so that it does not stop the
checkout for a fifth of a second every few seconds, and its pauses counted for /metrics.

At a drill's load the service holds thousands of open keep-alive connections, each a few
hundred live objects that survive the young collections and are promoted to the oldest
generation. With the default thresholds a full collection ran every ~2.7 s at ~1,700
requests/s and walked every live object each time: 43-45 pauses of 148-180 ms median in a
130-s drill, and each pause left a backlog that a loop near its ceiling drained only at the
rate of its spare capacity — product p95 112-158 ms where the queue alone gives ~10 ms.
Measured on that drill (README, "The reference checkout service"):

- ``gc.freeze()`` after start-up (the imports, the scenario, the app: never garbage) takes
  them out of every collection: full pauses 122 ms, p95 80 ms;
- and a full collection every GEN2_EVERY generation-1 collections instead of 10: none in
  the drill, p95 10.8-11.6 ms. Memory is what it costs: garbage cycles that reach the oldest
  generation wait longer for it (resident set after the drill 296 MB, 136 MB untuned).

Instagram's web servers (the reason ``gc.freeze`` exists) do the same. Only the serving
process is tuned (:func:`tune` from the app factory): tests that run the app in a thread of
their own process keep Python's defaults.
"""

from __future__ import annotations

import gc
import time
from typing import Any

GEN2_EVERY = 1000
"""Generation-1 collections between two full ones (Python's default: 10)."""


class Pauses:
    """Seconds and count of the collector's pauses per generation, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.count[generation] += 1


PAUSES: Pauses | None = None
"""The serving process's recorder (None where :func:`tune` was not called)."""


def tune() -> None:
    """Freeze what start-up built, collect the oldest generation rarely, count the pauses."""
    global PAUSES
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, GEN2_EVERY)
    PAUSES = Pauses()
    gc.callbacks.append(PAUSES)


def exposition() -> list[str]:
    """Prometheus lines: the pauses per generation and the objects frozen at start-up."""
    if PAUSES is None:
        return []
    lines = ["# HELP peakday_gc_pause_seconds Time the cycle collector stopped this worker "
             "process, by generation.", "# TYPE peakday_gc_pause_seconds summary"]
    for generation in range(3):
        lines += [f'peakday_gc_pause_seconds_sum{{generation="{generation}"}} '
                  f"{PAUSES.seconds[generation]:.6f}",
                  f'peakday_gc_pause_seconds_count{{generation="{generation}"}} '
                  f"{PAUSES.count[generation]}"]
    return [*lines, "# HELP peakday_gc_frozen_objects Objects frozen at start-up (never "
                    "collected).", "# TYPE peakday_gc_frozen_objects gauge",
            f"peakday_gc_frozen_objects {gc.get_freeze_count()}"]
