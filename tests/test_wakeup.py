"""`later` schedules exactly as SimPy's own Timeout would: same times, same tie order."""

from __future__ import annotations

import simpy

from sim.model.wakeup import later


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
