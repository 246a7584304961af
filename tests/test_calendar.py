"""The calendars (sim/model/calendar.py: think times, delayed support contacts) change how long
wakeups wait outside SimPy's heap, never the order events are processed in: a day is the same
to the byte whether those wakeups are held in buckets of any width or pushed straight into the
heap, and paused or not."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import simpy

from sim.model import calendar
from sim.model.calendar import Calendar
from sim.model.day import DayRun
from sim.scenario import load_scenario

from .conftest import ROOT

STRAIGHT = 2.0 ** 40
"""A bucket so wide that every wakeup's has already started: nothing is held."""
WIDTHS = (2.0 ** -6, calendar.WIDTH, 4.0)
"""Narrower than, as wide as, and wider than the model's own buckets."""
CASES = {
    # A whole ordinary day: quiet hours, where most buckets hold one wakeup or none.
    "small-shop": (load_scenario(ROOT / "scenarios" / "small-shop.yaml"), None),
    # double11's opening rush, cut after ten minutes: thousands of sessions thinking at once.
    "double11": (load_scenario(ROOT / "scenarios" / "double11.yaml"), 600.0),
}


def day(monkeypatch: pytest.MonkeyPatch, name: str, width: float,
        pauses: tuple[float, ...] = ()) -> tuple[bytes, int]:
    """The pickled observation of the case's day with buckets ``width`` wide (both calendars),
    paused at ``pauses`` on the way, and the most wakeups its calendars held at a pause."""
    monkeypatch.setattr(calendar, "WIDTH", width)
    monkeypatch.setattr(calendar, "LATER_WIDTH", width)
    scenario, until = CASES[name]
    run = DayRun(scenario, np.random.SeedSequence(7))
    held = 0
    for t in pauses:
        run.advance(t)
        calendars = [run.day.shoppers._calendar, run.day.support._later]  # type: ignore[union-attr]
        held = max(held, sum(len(bucket) for c in calendars for bucket in c.held.values()))
    return pickle.dumps(run.finish(until)), held


@pytest.mark.parametrize("name", CASES)
def test_holding_think_wakeups_changes_no_byte_of_a_day(monkeypatch, name):
    straight, held = day(monkeypatch, name, STRAIGHT, pauses=(300.0,))
    assert held == 0
    for width in WIDTHS:
        with monkeypatch.context() as patch:
            got, held = day(patch, name, width, pauses=(300.0,))
        assert held > 0, width  # the calendar was in use
        assert got == straight, width


def test_a_day_paused_inside_buckets_equals_the_day_run_straight_through(monkeypatch):
    whole, _ = day(monkeypatch, "double11", 1.0)
    paused, held = day(monkeypatch, "double11", 1.0, pauses=(0.3, 61.5, 61.75, 299.999))
    assert held > 0
    assert paused == whole


def test_wakeups_come_in_time_then_scheduling_order_among_other_events():
    env = simpy.Environment()
    held = Calendar(env)
    seen: list[tuple[float, str]] = []

    def note(name: str):
        return lambda _event: seen.append((env.now, name))

    times = [3.0, 0.5, 3.0, 1.0 + calendar.WIDTH / 2, 1.0, 0.0, 3.0]
    for i, t in enumerate(times):
        if i % 2:  # a think wakeup, held by the calendar
            event = simpy.Event(env)
            event._ok, event._value = True, None
            event.callbacks = [note(f"held {i}")]
            held.add((t, simpy.events.NORMAL, next(env._eid), event))
        else:  # an ordinary timeout, straight into the heap
            env.timeout(t).callbacks.append(note(f"timeout {i}"))
    env.run()
    expected = sorted(((t, i) for i, t in enumerate(times)))
    assert seen == [(t, f"{'held' if i % 2 else 'timeout'} {i}") for t, i in expected]


def test_a_width_that_is_not_a_power_of_two_is_refused(monkeypatch):
    monkeypatch.setattr(calendar, "WIDTH", 0.1)
    with pytest.raises(ValueError, match="power of two"):
        Calendar(simpy.Environment())
