"""One pending wakeup per line of equal time limits, instead of one per waiting item.

Every request in the platform's queue may wait ``queue_timeout``, every client
``client_timeout``, every reservation lives ``reservation_ttl``. When all items of a line share
one limit and join it in time order, their deadlines come in that same order, so only the
oldest needs a timer: when it fires, the line settles every item that is due, drops from its
front those already settled some other way, and arms one timer for the next. SimPy's heap then
holds one event per line rather than one per waiting item: far fewer heap pushes and pops, and
a heap that no longer grows with how long items may wait (a 10 h queue timeout used to keep a
deadline per queued request for 10 h).

An item settled early stays in the line until it reaches the front, where the next join (or
the wakeup) drops it unseen: the line holds what joined since its oldest unsettled item, so
its length follows how long items really wait, not how long they may wait.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import simpy

from .wakeup import Wakeable, wake

T = TypeVar("T")
EPS = 1e-9
"""Deadlines this close to now are due (``now + (deadline - now)`` may round below it)."""


class Deadlines(Wakeable, Generic[T]):
    """Items in the order they joined, each due ``limit`` after it joined.

    ``expire(item)`` is called once for each item still ``live`` at its deadline, at that
    deadline. ``live`` is None when the owner removes settled items itself (from the front
    only, as a FIFO queue's server does). With ``limit`` None nothing ever expires and the
    line is a plain FIFO queue.
    """

    __slots__ = ("_armed", "_due", "_env", "_expire", "_live", "items", "limit")
    # The line is its own wakeup (one pending at most): see wakeup.py.

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
        self._due = (self._settle_due,)

    def add(self, item: T) -> None:
        """``item`` joins now (first dropping the settled ones at the front)."""
        items, live = self.items, self._live
        if live is not None:
            while items and not live(items[0][1]):
                items.popleft()
        items.append((self._env._now + self.limit, item))
        if not self._armed:
            self._armed = True
            wake(self._env, self.limit, self, self._due)

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
                wake(env, deadline - now, self, self._due)
                return
            items.popleft()
            self._expire(item)  # may add items: they are due later, the loop re-arms for them
        self._armed = False
