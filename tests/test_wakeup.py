"""`later` schedules exactly as SimPy's own Timeout would: same times, same tie order."""

from __future__ import annotations

import pytest
import simpy

from sim.model.deadlines import Deadlines
from sim.model.wakeup import Wakeable, later, run, wake


def test_later_interleaves_with_timeouts_in_simpy_order():
    env = simpy.Environment()
    seen = []
    for i, delay in enumerate([3.0, 1.0, 1.0, 2.0, 0.0, 1.0]):
        if i % 2:
            later(env, delay, lambda ev: seen.append((env.now, ev._value)), i)
        else:
            env.timeout(delay, i).callbacks.append(lambda ev: seen.append((env.now, ev.value)))
    env.run()
    assert seen == [(0.0, 4), (1.0, 1), (1.0, 2), (1.0, 5), (2.0, 3), (3.0, 0)]



class Thing(Wakeable):
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


def test_an_object_woken_as_its_own_event_keeps_simpy_order_and_can_wake_again():
    env = simpy.Environment()
    seen = []
    thing = Thing("t")

    def woke(event):
        seen.append((env.now, event.name))
        if env.now < 2.0:
            wake(env, 1.0, event, (woke,))  # pending again once processed

    wake(env, 1.0, thing, (woke,))
    env.timeout(1.0, "timeout").callbacks.append(lambda ev: seen.append((env.now, ev.value)))
    wake(env, 0.5, Thing("u"), (woke,))
    env.run()
    assert seen == [(0.5, "u"), (1.0, "t"), (1.0, "timeout"), (1.5, "u"), (2.0, "t"), (2.5, "u")]

def test_later_wakes_a_waiting_process():
    env = simpy.Environment()
    gate = env.event()
    later(env, 5.0, lambda _: gate.succeed("open"))

    def waiter():
        value = yield gate
        return env.now, value

    process = env.process(waiter())
    env.run()
    assert process.value == (5.0, "open")


def test_deadlines_expire_each_live_item_at_its_own_deadline_with_one_pending_wakeup():
    env = simpy.Environment()
    expired = []
    settled = set()
    line = Deadlines(env, 10.0, lambda item: expired.append((env.now, item)),
                     live=lambda item: item not in settled)
    wakeups = []

    def join(event):
        line.add(event._value)
        wakeups.append(sum(_calls(ev, line) for *_, ev in env._queue))

    for i, t in enumerate([0.0, 1.0, 1.0, 2.5, 4.0, 30.0]):
        later(env, t, join, i)
    later(env, 5.0, lambda _: settled.update({1, 3}))  # answered before their deadlines
    env.run()
    assert expired == [(10.0, 0), (11.0, 2), (14.0, 4), (40.0, 5)]
    assert wakeups == [1] * 6, "one pending wakeup for the line, never one per waiting item"
    assert len(line) == 0


def test_deadlines_reached_while_expiring_are_served_in_order():
    """An expiry that makes an item join again (a retry at once) gets a deadline of its own."""
    env = simpy.Environment()
    seen = []

    def expire(item):
        seen.append((env.now, item))
        if item < 3:
            line.add(item + 1)

    line = Deadlines(env, 2.0, expire)
    line.add(0)
    env.run()
    assert seen == [(2.0, 0), (4.0, 1), (6.0, 2), (8.0, 3)]


def _calls(event, owner) -> bool:
    """Whether SimPy's step would call one of ``owner``'s methods for ``event``."""
    return any(getattr(callback, "__self__", None) is owner for callback in event.callbacks or ())


def _busy_world(env: simpy.Environment, seen: list) -> None:
    """Timeouts, wakeups, a process and ties, some of them exactly at the end time (10.0)."""
    def note(event):
        seen.append((env.now, getattr(event, "name", None) or event._value))

    def ticker():
        while True:
            yield env.timeout(2.5)
            seen.append((env.now, "tick"))

    env.process(ticker())
    for i, delay in enumerate([10.0, 1.0, 3.0, 3.0, 9.99, 12.0]):
        env.timeout(delay, f"timeout{i}").callbacks.append(note)
        wake(env, delay, Thing(f"thing{i}"), (note,))
    later(env, 10.0, note, "later at the end")


def test_run_processes_what_simpy_run_processes_in_the_same_order():
    ours, theirs = simpy.Environment(), simpy.Environment()
    seen_ours: list = []
    seen_theirs: list = []
    _busy_world(ours, seen_ours)
    _busy_world(theirs, seen_theirs)
    run(ours, 10.0)
    theirs.run(until=10.0)
    assert seen_ours == seen_theirs
    assert seen_ours[-1] == (9.99, "thing4")
    assert ours.now == theirs.now == 10.0
    # and it goes on from there as SimPy does
    run(ours, 20.0)
    theirs.run(until=20.0)
    assert seen_ours == seen_theirs


def test_run_crashes_on_a_failed_event_as_simpy_does():
    env = simpy.Environment()
    event = env.event()
    later(env, 1.0, lambda _: event.fail(ValueError("broken")))
    with pytest.raises(ValueError, match="broken"):
        run(env, 5.0)
    with pytest.raises(ValueError, match="greater than"):
        run(simpy.Environment(), 0.0)
