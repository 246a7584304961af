"""One pending wakeup per line of equal time limits, instead of one per waiting item.

Every request in the platform's queue may wait ``queue_timeout``, every client
``client_timeout``, every reservation lives ``reservation_ttl``. When all items of a line share
one limit and join it in time order, their deadlines come in that same order, so only the
oldest needs a timer: when it fires, the line settles every item that is due, drops from its
front those already settled some other way, and arms one timer for the next. SimPy's heap then
holds one event per line rather than one per waiting item: far fewer heap pushes and pops, and
a heap that no longer grows with how long items may wait (a 10 h queue timeout used to keep a
deadline per queued request for 10 h).

An item settled early stays in the line until it reaches the front (it is dropped there
unseen), so a line holds what joined within about one limit: bounded by the rate, not the day.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import simpy

from .wakeup import later

T = TypeVar("T")
EPS = 1e-9
"""Deadlines this close to now are due (``now + (deadline - now)`` may round below it)."""


class Deadlines(Generic[T]):
    """Items in the order they joined, each due ``limit`` after it joined.

    ``expire(item)`` is called once for each item still ``live`` at its deadline, at that
    deadline. ``live`` is None when the owner removes settled items itself (from the front
    only, as a FIFO queue's server does). With ``limit`` None nothing ever expires and the
    line is a plain FIFO queue.
    """

    __slots__ = ("_armed", "_due", "_env", "_expire", "_live", "items", "limit")

    def __init__(self, env: simpy.Environment, limit: float | None,
                 expire: Callable[[T], None], live: Callable[[T], bool] | None = None):
        self._env = env
        self.limit = math.inf if limit is None else limit
        self._expire = expire
        self._live = live
        self.items: deque[tuple[float, T]] = deque()
        """(deadline, item), oldest first."""
        self._armed = limit is None
        """A wakeup is pending (or, with no limit, none is ever needed)."""
        self._due = self._settle_due  # bound once: it is scheduled again and again

    def add(self, item: T) -> None:
        """``item`` joins now."""
        self.items.append((self._env.now + self.limit, item))
        if not self._armed:
            self._armed = True
            later(self._env, self.limit, self._due)

    def __len__(self) -> int:
        return len(self.items)

    def _settle_due(self, _event: object) -> None:
        env, items, live = self._env, self.items, self._live
        while items:
            deadline, item = items[0]
            if live is not None and not live(item):
                items.popleft()
                continue
            now = env.now
            if deadline > now + EPS:
                later(env, deadline - now, self._due)
                return
            items.popleft()
            self._expire(item)  # may add items: they are due later, the loop re-arms for them
        self._armed = False
