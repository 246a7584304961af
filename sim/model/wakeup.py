"""Scheduling a callback on SimPy's clock at the lowest cost the engine allows.

``env.timeout(delay, value).callbacks.append(fn)`` builds a full ``Timeout`` (a dict-backed
object with validation) per call. A request needs two or three of these, so at 15 million
requests per day that overhead is a large share of the run time.

What ``Environment.step`` needs of an event is little: it pops ``(time, priority, id, event)``
from the heap, swaps ``event.callbacks`` for None, calls each callback with the event, and
reads ``event._ok``. So a model object that has a ``callbacks`` slot (a :class:`Wakeable`) can
be its own event: :func:`wake` pushes the very entry ``Environment.schedule`` would push, with
the object as the event and a tuple of callbacks built once, so a wakeup allocates nothing
but the heap entry. An object may be pending at most once at a time (a request's service, a
session's think time, a line's next deadline). :func:`later` wraps any value in a fresh
:class:`Wakeup` for the rest. Ordering and behaviour are SimPy's own; the test suite pins
this against ``env.timeout`` (tests/test_wakeup.py).

Two entries are scheduled once per request, a service and a think time; there
(``Servers.submit``, ``Shoppers.step_done``) the push is written out in place, as a function
call costs more than the push itself (about 3% of a double11 day each). A think time's entry
goes to the think-time calendar (calendar.py) rather than straight into the heap. :func:`run` is
``env.run(until=...)`` with ``Environment.step``'s body in its loop, for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

Callbacks = tuple[Callable[[Any], None], ...]
"""What SimPy's step calls, in order, with the event (the woken object) as the argument."""


class Wakeable:
    """Something SimPy's step can process as an already triggered, successful event."""

    __slots__ = ("callbacks",)
    _ok = True

    callbacks: Callbacks | None


def wake(env: simpy.Environment, delay: float, target: Wakeable, callbacks: Callbacks) -> None:
    """Call each of ``callbacks`` with ``target`` after ``delay`` simulated seconds.

    The heap entry is ``Environment.schedule``'s (time, NORMAL, next id, event): ties go in
    scheduling order, interleaved with SimPy's own events exactly as theirs are.
    """
    target.callbacks = callbacks
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), target))  # type: ignore[misc]


class Wakeup(Wakeable):
    """A one-off wakeup; ``_value`` is what the callback reads."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        self._value = value


def later(env: simpy.Environment, delay: float, callback: Callable[[Any], None],
          value: Any = None) -> None:
    """Call ``callback(event)`` after ``delay`` simulated seconds; ``event._value`` is value."""
    wake(env, delay, Wakeup(value), (callback,))


class _Stop(Exception):
    """Raised by the stop marker at ``until``."""


def _stop(_marker: object) -> None:
    raise _Stop


def run(env: simpy.Environment, until: float) -> None:
    """Process events until ``until``, as ``env.run(until=until)`` does.

    SimPy's run schedules an URGENT event at ``until`` that stops it, then calls ``step`` per
    event; here the marker is the same heap entry and the loop is ``step``'s own code (pop,
    clear the callbacks, call each, crash on a failed event nobody defused), so events are
    processed in the same order with the same effects, a method call per event cheaper.
    """
    stop_at(env, until)
    run_to_stop(env)


def stop_at(env: simpy.Environment, until: float) -> None:
    """Put a stop marker at ``until``: :func:`run_to_stop` returns when it is reached.

    Several markers may be pending (the end of the day, and pauses before it); each is one
    heap entry, so a run paused and resumed processes the same events in the same order as
    one run straight through.
    """
    if until <= env._now:
        raise ValueError(f"until ({until}) must be greater than the current simulation time")
    marker = Wakeup(None)
    marker.callbacks = (_stop,)
    heappush(env._queue, (until, URGENT, next(env._eid), marker))  # type: ignore[misc]


def run_to_stop(env: simpy.Environment) -> None:
    """Process events until the first pending stop marker (:func:`stop_at`)."""
    queue: list[tuple[float, int, int, Any]] = env._queue  # type: ignore[assignment]
    try:
        while True:
            env._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                value = event._value
                exc = type(value)(*value.args)
                exc.__cause__ = value
                raise exc
    except _Stop:
        pass
