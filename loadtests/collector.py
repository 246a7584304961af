"""Python's cycle collector in the two processes whose pauses are in a drill's latencies: the
reference service (the target) and the drill's load generator.

The collector walks every tracked object of the generations it collects, and stops the
process meanwhile: the service's requests, or the generator's sending and reading (every
request in flight and every session due waits, and the latencies measured carry it). At 90%
of the reference service's ceiling (flash-sale 20:15-20:25 at 1.79x, ~2,100 requests/s, the
service pinned to a core, the generator to the other; README "The reference checkout
service"), p95 per endpoint:

- as session 8 left it (the service's start-up frozen, its full collections 100x rarer;
  the generator untouched): 64-126 ms. The service's young collections walked thousands of
  open connections' objects (generation 1: 7-8 ms median, up to 74, five a second); the full
  ones it no longer ran left the garbage to pile up (1.5 million objects in a 130-s drill,
  3 s to collect: most likely run 14's 4-s stall, when one finally came); and the
  generator's full collections walked its plan and users, 194 ms median (up to 453) every
  ~8 s;
- the service's collector off: 25-37 ms; the generator's too: 14-15 ms.

The service (:func:`tune`): ``gc.freeze()`` after start-up (the imports, the scenario, the
app); the one cycle it made, a closed connection's transport, broken where the connection
closes (protocol.py), so that it makes no cyclic garbage; and a young generation of YOUNG
objects, so that the collector runs only if something unforeseen piles up that many (a bound
on memory, not a schedule): no collection in the drill above, the resident set 141 MB
(352 MB before). ``peakday_gc_young_objects`` on /metrics shows how near it comes (~290,000
in that drill). Instagram's web servers, the reason ``gc.freeze`` exists, did the same.

The generator (:func:`settle_generator`, drill.py): its plan and scenario frozen once built,
its users once spawned (all live as long as the drill), and its full collections at least
10x rarer (Python also waits for the oldest generation to grow by a quarter of what it held
at the last full collection, start-up's heap included):
what they walk is then what is in flight, and the garbage it makes is a failed request's
traceback (~60 objects; 3,045 in 74,698 requests). p95 14.5-15.2 ms in the drill above (15
full collections of 41 ms median with the freezes alone: 17-19 ms).

Tests that run the app in a thread of their own process keep Python's defaults.
"""

from __future__ import annotations

import gc
import time
from typing import Any

YOUNG = 1_000_000
"""The service's objects allocated and alive (or in unfreed cycles) since the last collection
that start one (Python's default: 700); its live set at 90% of the ceiling: ~290,000. The
collection that this starts, if one ever does, walks them all: seconds (3 s for 1.5 million
objects here), a pause to see coming on ``peakday_gc_young_objects``."""
GENERATOR_OLDEST = 100
"""The generator's generation-1 collections between two full ones (Python's default: 10)."""


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
    """Freeze what start-up built, collect only past YOUNG objects, count the pauses."""
    global PAUSES
    freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, oldest)
    PAUSES = Pauses()
    gc.callbacks.append(PAUSES)


def freeze() -> None:
    """Take every object alive now out of all later collections."""
    gc.collect()
    gc.freeze()


def settle_generator() -> None:
    """In a load-generating process whose plan is built: freeze it, and collect the oldest
    generation GENERATOR_OLDEST times rarer (drill.py freezes again once the users are up)."""
    freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, GENERATOR_OLDEST)


def exposition() -> list[str]:
    """Prometheus lines: the pauses per generation, the objects frozen at start-up and those
    waiting for the collector."""
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
            f"peakday_gc_frozen_objects {gc.get_freeze_count()}",
            "# HELP peakday_gc_young_objects Objects allocated and not freed since the last "
            f"collection (one starts at {YOUNG}).", "# TYPE peakday_gc_young_objects gauge",
            f"peakday_gc_young_objects {gc.get_count()[0]}"]
