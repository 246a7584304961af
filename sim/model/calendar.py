"""Think-time wakeups held out of SimPy's heap until they are nearly due.

Between two steps a session thinks (double11: exponential, mean 8 s), so at any moment most
sessions sit in SimPy's heap waiting to wake: about 6,000 in double11's opening rush, 60,000
with ten times the sessions. Every pop then sifts through a heap that size, and the larger it
is the more of it falls out of the CPU's caches: a pop cost 0.68 µs at 6,000 entries and
3.2 µs at 60,000, which made a ten-times day 13 times as long as the day.

So a think wakeup goes into a *bucket* of the calendar instead: bucket ``k`` holds the entries
due in ``[k·W, (k+1)·W)``; the first entry of a bucket whose start is still ahead opens it, and
an entry whose bucket has already started goes straight into the heap. The earliest held
bucket has a *refill marker* in the heap at its start, which moves the bucket's entries into
the heap when it pops and marks the next held bucket. The heap then holds what is due within
about ``W`` seconds and one marker (a marker per held bucket, the first version, kept some 540
markers in double11's heap of 580 entries).

Nothing about the order events are processed in changes. Each entry is the one SimPy would
have pushed — ``(time, NORMAL, id, event)``, the id taken when the wakeup is scheduled — and it
reaches the heap before it is due: the marker ``(k·W, URGENT, id)`` sorts before every entry of
its bucket (none is earlier than ``k·W``, and URGENT precedes NORMAL at equal times) and of
every later bucket, so while buckets are held the heap's smallest entry is no later than any
of theirs. Only
the relative order of ids matters to the heap, and markers take ids of their own without
reordering the others'. The stop markers of a paused day (``wakeup.stop_at``) are heap entries
like any other, so a day paused (and forked, ``sim.sizing.forks``) still equals one run
straight through. ``W`` is a power of two, so ``time / W`` and ``k·W`` are exact and an
entry's bucket never starts after it is due.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

from .wakeup import Wakeup

WIDTH = 1 / 16
"""Seconds per bucket (a power of two). The narrower, the fewer entries in the heap and the
more refills: double11's first ten minutes with ten times the sessions took 18.7, 17.8 and
17.8 CPU-s at 1/4, 1/16 and 1/64 s, its first half hour at x1 3.33, 3.44 and 3.54 CPU-s
(one run each, one after the other on an otherwise idle machine)."""

LATER_WIDTH = 16.0
"""Seconds per bucket for wakeups scheduled far ahead: a support contact an hour after its
order (double11 x10: 7,000 of them in the heap by the first half hour, more than everything
else together). Wide buckets, as these are sparse and none is due soon."""

Entry = tuple[float, int, int, Any]
"""A heap entry as SimPy's ``Environment.schedule`` makes it: (time, priority, id, event)."""


class Calendar:
    """Wakeups by bucket of ``width`` seconds, each moved into the heap as it starts.

    The caller's fast path is written out where the push is (``Shoppers.step_done``):
    ``held.get(int(time * per))`` and an append when the bucket is open; :meth:`add` does the
    rest (opening a bucket, or pushing an entry whose bucket has started).
    """

    __slots__ = ("_keys", "_marked", "_refilling", "env", "held", "per", "width")

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
        self._keys: list[int] = []
        """The held buckets, as a heap: the earliest is ``_keys[0]``."""
        self._marked: set[int] = set()
        """Buckets with a refill marker in SimPy's heap: always the earliest held, and any
        that was the earliest when it opened."""
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
        if bucket * self.width <= env._now:
            heappush(env._queue, entry)  # type: ignore[misc]  # a Wakeable: see wakeup.py
            return
        self.held[bucket] = [entry]
        keys = self._keys
        heappush(keys, bucket)
        if keys[0] == bucket:
            self._mark(bucket)

    def _mark(self, bucket: int) -> None:
        """Push the marker that refills ``bucket`` at its start."""
        self._marked.add(bucket)
        marker = Wakeup(bucket)
        marker.callbacks = self._refilling
        env = self.env
        heappush(env._queue, (bucket * self.width, URGENT, next(env._eid), marker))  # type: ignore[misc]

    def later(self, delay: float, callback: Callable[[Any], None], value: Any = None) -> None:
        """``wakeup.later`` through the calendar: the same entry, held until its bucket
        starts."""
        wakeup = Wakeup(value)
        wakeup.callbacks = (callback,)
        env = self.env
        self.add((env._now + delay, NORMAL, next(env._eid), wakeup))

    def _refill(self, marker: Wakeup) -> None:
        """Move the earliest held bucket (the marker's: every earlier one was refilled by its
        own marker) into the heap, and mark the next."""
        bucket: int = marker._value
        self._marked.discard(bucket)
        queue = self.env._queue
        for entry in self.held.pop(bucket):
            heappush(queue, entry)  # type: ignore[misc]
        keys = self._keys
        heappop(keys)
        if keys and keys[0] not in self._marked:
            self._mark(keys[0])
