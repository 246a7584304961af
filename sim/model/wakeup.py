"""Scheduling a callback on SimPy's clock at the lowest cost the engine allows.

``env.timeout(delay, value).callbacks.append(fn)`` builds a full ``Timeout`` (a dict-backed
object with validation) per call. A request needs two or three of these, so at 15 million
requests per day that overhead is a large share of the run time. :func:`later` hands SimPy's
public ``Environment.schedule`` a slotted event carrying just what ``Environment.step`` reads
(its callbacks, ``_ok`` and ``_value``). Ordering and behaviour are SimPy's own; the test
suite pins this against ``env.timeout`` (tests/test_wakeup.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL


class Wakeup:
    """A pre-triggered event with one callback; ``_value`` is what the callback reads."""

    __slots__ = ("_ok", "_value", "callbacks")

    def __init__(self, callback: Callable[[Any], None], value: Any):
        self.callbacks = [callback]
        self._ok = True
        self._value = value


def later(env: simpy.Environment, delay: float, callback: Callable[[Any], None],
          value: Any = None) -> None:
    """Call ``callback(event)`` after ``delay`` simulated seconds; ``event._value`` is value."""
    env.schedule(Wakeup(callback, value), NORMAL, delay)  # type: ignore[arg-type]
