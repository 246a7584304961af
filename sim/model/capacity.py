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


def schedule_capacity(env: simpy.Environment, servers: Servers, scenario: Scenario
                      ) -> InstanceSchedule | None:
    """Set the serving instances at the start and arm every scheduled change of the run; the
    fixed schedule (autoscaling off) is returned, for :meth:`InstanceSchedule.replan`."""
    platform, clock = scenario.platform, scenario.clock
    auto = platform.autoscaling
    start = clock.start_time_of_day
    instances = StepSchedule(platform.instances, start)
    if not auto.enabled:
        return InstanceSchedule(env, servers, instances, clock.duration, auto.warmup)
    minimum = StepSchedule(auto.min, start)
    servers.floor = minimum.at(0.0)
    servers.serve(max(instances.at(0.0), servers.floor))
    for at, _before, after in minimum.changes(clock.duration):
        later(env, max(0.0, at - auto.warmup), _raise_floor, (servers, after, at))
    return None


class InstanceSchedule:
    """A fixed instance schedule as the run goes: more instances are launched ``warmup`` ahead
    of their clock time, fewer stop serving at it (requests in hand finish).

    Every step of the schedule is armed at the start — a launch check ``warmup`` ahead and a
    serve check at its time — and each reads its count only when it fires. So a simulation
    paused before a step can be given other counts from there on (:meth:`replan`) and runs on
    exactly as one started with them would: the same events in the same order, a check whose
    count did not change doing nothing. Sizing forks a paused day this way instead of
    simulating the hours it has already decided again (``sim.sizing.forks``).
    """

    def __init__(self, env: simpy.Environment, servers: Servers, instances: StepSchedule[int],
                 duration: float, warmup: float):
        self.env, self.servers, self.duration = env, servers, duration
        self.times, self.counts = self._steps(instances)
        self.launch_times = [max(0.0, at - warmup) for at in self.times]
        servers.serve(self.counts[0])
        for index in range(1, len(self.times)):
            later(env, self.launch_times[index], self._launch, index)
            later(env, self.times[index], self._serve, index)

    def _steps(self, instances: StepSchedule[int]) -> tuple[list[float], list[int]]:
        """Each step's time in the run (the first at the start) and its count."""
        steps = [(0.0, instances.at(0.0)), *instances.steps(self.duration)]
        return [at for at, _ in steps], [n for _, n in steps]

    def replan(self, instances: StepSchedule[int]) -> None:
        """Serve the schedule ``instances`` (at the same clock times) from now on: only steps
        whose launch check is still to come may change."""
        times, counts = self._steps(instances)
        if times != self.times:
            raise ValueError("a new instance schedule must keep the clock times of the old")
        now = self.env.now
        for index, (old, new) in enumerate(zip(self.counts, counts, strict=True)):
            if new != old and (index == 0 or self.launch_times[index] < now):
                raise ValueError(f"step {index} of the instance schedule has already begun")
        self.counts = counts

    def _launch(self, event: simpy.Event) -> None:
        index = event._value
        before, after = self.counts[index - 1], self.counts[index]
        if after > before:
            self.servers.launch(after - before, self.times[index] - self.env._now)

    def _serve(self, event: simpy.Event) -> None:
        index = event._value
        before, after = self.counts[index - 1], self.counts[index]
        if after < before:
            self.servers.serve(after)


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
