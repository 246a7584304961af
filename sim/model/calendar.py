"""Think-time wakeups held out of SimPy's heap until they are nearly due.

Between two steps a session thinks (double11: exponential, mean 8 s), so at any moment most
sessions sit in SimPy's heap waiting to wake: about 6,000 in double11's opening rush, 60,000
with ten times the sessions. Every pop then sifts through a heap that size, and the larger it
is the more of it falls out of the CPU's caches: a pop cost 0.68 µs at 6,000 entries and
3.2 µs at 60,000, which made a ten-times day 13 times as long as the day.

So a think wakeup goes into a *bucket* of the calendar instead: bucket ``k`` holds the entries
due in ``[k·W, (k+1)·W)``. The first entry of a bucket whose start is still ahead opens it and
pushes one *refill marker* at the bucket's start, which moves the bucket's entries into the
heap when it pops; an entry whose bucket has already started goes straight into the heap. The
heap then holds what is due within about ``W`` seconds plus one marker per pending bucket.

Nothing about the order events are processed in changes. Each entry is the one SimPy would
have pushed — ``(time, NORMAL, id, event)``, the id taken when the wakeup is scheduled — and it
reaches the heap before it is due: the marker ``(k·W, URGENT, id)`` sorts before every entry of
its bucket (none is earlier than ``k·W``, and URGENT precedes NORMAL at equal times), so while
a bucket is held its marker keeps the heap's smallest entry no later than the bucket's. Only
the relative order of ids matters to the heap, and markers take ids of their own without
reordering the others'. The stop markers of a paused day (``wakeup.stop_at``) are heap entries
like any other, so a day paused (and forked, ``sim.sizing.forks``) still equals one run
straight through. ``W`` is a power of two, so ``time / W`` and ``k·W`` are exact and an
entry's bucket never starts after it is due.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

from .wakeup import Wakeup

WIDTH = 1 / 16
"""Seconds per bucket (a power of two). The narrower, the smaller the heap and the more
markers: on double11's first ten minutes with ten times the sessions, 19.7-20.3 CPU-s at
1 s, 19.6-19.8 at 1/4 s, 18.3-19.2 at 1/16 s, 18.8 at 1/64 s (21.3 with no calendar); the
first half hour at x1 3.5 s at 1/16 s, 4.0 at 1/64 s (3.6 with none)."""

LATER_WIDTH = 16.0
"""Seconds per bucket for wakeups scheduled far ahead: a support contact an hour after its
order (double11 x10: 7,000 of them in the heap by the first half hour, more than everything
else together). Wide buckets, as these are sparse and none is due soon."""

Entry = tuple[float, int, int, Any]
"""A heap entry as SimPy's ``Environment.schedule`` makes it: (time, priority, id, event)."""


class Calendar:
    """Think wakeups by bucket of ``WIDTH`` seconds, each moved into the heap as it starts.

    The caller's fast path is written out where the push is (``Shoppers.step_done``):
    ``held.get(int(time * per))`` and an append when the bucket is open; :meth:`add` does the
    rest (opening a bucket, or pushing an entry whose bucket has started).
    """

    __slots__ = ("_refilling", "env", "held", "per", "width")

    def __init__(self, env: simpy.Environment, width: float | None = None):
        """Buckets ``width`` seconds wide: :data:`WIDTH` (think times) unless given."""
        width = WIDTH if width is None else width
        if width <= 0 or 2.0 ** round(math.log2(width)) != width:
            raise ValueError(f"a calendar's bucket width must be a power of two, not {width}")
        self.env = env
        self.width = width
        self.per = 1.0 / width
        """Buckets per second: ``int(time * per)`` is an entry's bucket, exactly."""
        self.held: dict[int, list[Entry]] = {}
        """Entries of the buckets not yet started, by bucket."""
        self._refilling = (self._refill,)

    def add(self, entry: Entry) -> None:
        """Hold ``entry`` in its bucket, opening it, or push it into the heap if its bucket has
        started."""
        bucket = int(entry[0] * self.per)
        held = self.held.get(bucket)
        if held is not None:
            held.append(entry)
            return
        env = self.env
        start = bucket * self.width
        if start <= env._now:
            heappush(env._queue, entry)  # type: ignore[misc]  # a Wakeable: see wakeup.py
            return
        self.held[bucket] = [entry]
        marker = Wakeup(bucket)
        marker.callbacks = self._refilling
        heappush(env._queue, (start, URGENT, next(env._eid), marker))  # type: ignore[misc]

    def later(self, delay: float, callback: Callable[[Any], None], value: Any = None) -> None:
        """``wakeup.later`` through the calendar: the same entry, held until its bucket
        starts."""
        wakeup = Wakeup(value)
        wakeup.callbacks = (callback,)
        env = self.env
        self.add((env._now + delay, NORMAL, next(env._eid), wakeup))

    def _refill(self, marker: Wakeup) -> None:
        queue = self.env._queue
        for entry in self.held.pop(marker._value):
            heappush(queue, entry)  # type: ignore[misc]
