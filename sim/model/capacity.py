"""Capacity on the clock: instances (or autoscaling's minimum) scheduled by the time of day.

A planner who knows the 20:00 flash sale is coming does not wait for the autoscaler: they
have N instances serving *at* 20:00, which means launching them ``warmup`` earlier (paid from
launch). With autoscaling off, ``platform.instances`` is that schedule; fewer instances take
effect at their clock time (requests in hand finish). With autoscaling on,
``autoscaling.min`` may follow the clock the same way (scheduled pre-scaling): the raised
minimum is launched ``warmup`` ahead so it serves from its clock time, and the autoscaler
keeps at least it until the next change.
"""

from __future__ import annotations

import simpy

from ..scenario.schedule import StepSchedule
from ..scenario.schema import Scenario
from .platform import Servers
from .wakeup import later


def schedule_capacity(env: simpy.Environment, servers: Servers, scenario: Scenario) -> None:
    """Set the serving instances at the start and arm every scheduled change of the run."""
    platform, clock = scenario.platform, scenario.clock
    auto = platform.autoscaling
    start = clock.start_time_of_day
    instances = StepSchedule(platform.instances, start)
    if not auto.enabled:
        servers.serve(instances.at(0.0))
        for at, before, after in instances.changes(clock.duration):
            _change(env, servers, at, before, after, auto.warmup)
        return
    minimum = StepSchedule(auto.min, start)
    servers.floor = minimum.at(0.0)
    servers.serve(max(instances.at(0.0), servers.floor))
    for at, _before, after in minimum.changes(clock.duration):
        later(env, max(0.0, at - auto.warmup), _raise_floor, (servers, after, at))


def _change(env: simpy.Environment, servers: Servers, at: float, before: int, after: int,
            warmup: float) -> None:
    """More instances are launched ``warmup`` ahead of ``at``; fewer stop serving at ``at``."""
    if after > before:
        launch_at = max(0.0, at - warmup)
        later(env, launch_at, lambda _: servers.launch(after - before, at - launch_at))
    else:
        later(env, at, lambda _: servers.serve(after))


def _raise_floor(event: simpy.Event) -> None:
    """A scheduled minimum: launch what it lacks so it serves at its clock time."""
    servers, floor, at = event._value
    env = servers.env
    if floor > servers.floor:
        missing = floor - servers.instances - servers.warming
        if missing > 0:
            servers.launch(missing, at - env.now)
    if at > env.now:
        later(env, at - env.now, _set_floor, (servers, floor))
    else:
        servers.floor = floor


def _set_floor(event: simpy.Event) -> None:
    servers, floor = event._value
    servers.floor = floor
