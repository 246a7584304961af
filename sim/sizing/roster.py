"""Rosters: the cheapest set of shifts covering a per-interval agent requirement.

Agents work shifts, not half-hours. Given the shifts a contact centre may use
(``sizing.agents.shifts``: lengths, a start every ``every``, an earliest and latest start, a cap
on agents starting together, a break), the roster is the classic set-covering integer program
(Dantzig 1954): x_j agents on shift option j, minimise paid hours sum_j hours_j x_j subject to
sum_{j covering i} x_j >= need_i for every interval i, x_j integer >= 0, and at most the cap
starting at each start time. ``scipy.optimize.milp`` (HiGHS) solves it exactly; a day has a few
hundred options at most.

A clock of whole days is rostered as one repeating day (the schedule repeats daily): each time
of day needs the most any day needs there, and a shift starting at 22:00 covers the early
hours too. A shorter clock is rostered over its own window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from ..scenario.schema import Scenario, Shifts
from ..scenario.units import DAY


class RosterError(ValueError):
    """No roster of the allowed shifts can cover the requirement."""


@dataclass(frozen=True)
class ShiftOption:
    """A shift the roster may use: where it starts, how long, which slots it covers."""

    start: int
    """Slot (staffing interval from the clock's start, or of the day when cyclic)."""
    slots: int
    """Length in slots (paid, the break included)."""
    covers: tuple[int, ...]
    """Slots with the agent on the phones (the break left out)."""


@dataclass(frozen=True)
class Horizon:
    """The slots a roster is solved over and how they map to the clock's intervals."""

    slots: int
    cyclic: bool
    per: float

    def fold(self, need: Sequence[int]) -> list[int]:
        """Per-slot need: the most any interval at that slot needs."""
        folded = [0] * self.slots
        for i, n in enumerate(need):
            folded[i % self.slots] = max(folded[i % self.slots], int(n))
        return folded

    def unfold(self, coverage: Sequence[int], intervals: int) -> list[int]:
        return [int(coverage[i % self.slots]) for i in range(intervals)]


def horizon(scenario: Scenario, intervals: int) -> Horizon:
    per = scenario.sizing.agents.per
    whole_days = scenario.clock.duration % DAY == 0 and DAY % per == 0
    return Horizon(round(DAY / per) if whole_days else intervals, whole_days, per)


def shift_options(shifts: Shifts, space: Horizon, start_time_of_day: float) -> list[ShiftOption]:
    """Every allowed (start, length) on the horizon, with the slots each covers."""
    per = space.per
    every = round(shifts.every / per)
    options = []
    for start in range(0, space.slots, every):
        if not _may_start(shifts, (start_time_of_day + start * per) % DAY):
            continue
        for length in sorted({round(s / per) for s in shifts.lengths}):
            off = set()
            if shifts.break_ is not None and length * per > shifts.break_.after:
                first = round(shifts.break_.after / per)
                off = set(range(first, min(first + round(shifts.break_.length / per), length)))
            steps = [k for k in range(length) if k not in off]
            covers = ([(start + k) % space.slots for k in steps] if space.cyclic
                      else [start + k for k in steps if start + k < space.slots])
            if covers:
                options.append(ShiftOption(start, length, tuple(covers)))
    return options


def _may_start(shifts: Shifts, time_of_day: float) -> bool:
    earliest, latest = shifts.earliest_start, shifts.latest_start
    if earliest is None and latest is None:
        return True
    low = earliest if earliest is not None else 0.0
    high = latest if latest is not None else DAY
    if low <= high:
        return low <= time_of_day <= high
    return time_of_day >= low or time_of_day <= high  # a window across midnight


def cheapest_cover(need: Sequence[int], options: Sequence[ShiftOption],
                   max_per_start: int | None = None) -> list[int]:
    """Agents on each option: the fewest paid slots covering ``need`` in every slot."""
    if not any(need):
        return [0] * len(options)
    cover = np.zeros((len(need), len(options)))
    for j, option in enumerate(options):
        for slot in option.covers:
            cover[slot, j] += 1
    uncovered = [i for i, n in enumerate(need) if n > 0 and not cover[i].any()]
    if uncovered:
        raise RosterError(f"no allowed shift covers slot {uncovered[0]}, which needs "
                          f"{need[uncovered[0]]} agents (check the shifts' starts and lengths)")
    constraints = [LinearConstraint(cover, lb=np.asarray(need, dtype=float), ub=np.inf)]
    if max_per_start is not None:
        starts = sorted({o.start for o in options})
        together = np.array([[1.0 if o.start == s else 0.0 for o in options] for s in starts])
        constraints.append(LinearConstraint(together, lb=0, ub=max_per_start))
    paid = np.array([o.slots for o in options], dtype=float)
    result = milp(paid, constraints=constraints, integrality=np.ones(len(options)),
                  bounds=Bounds(0, np.inf))
    if result.status != 0 or result.x is None:
        raise RosterError(f"no roster of the allowed shifts covers the requirement "
                          f"({result.message.strip()}; raise max_per_start or allow more starts)")
    return [round(float(x)) for x in result.x]


def coverage(agents: Sequence[int], options: Sequence[ShiftOption], slots: int) -> list[int]:
    """Agents on the phones in each slot."""
    covered = [0] * slots
    for count, option in zip(agents, options, strict=True):
        for slot in option.covers:
            covered[slot] += count
    return covered


def cheapest_fix(options: Sequence[ShiftOption], slot: int, slots: int) -> int:
    """The option to add one agent on so that ``slot`` gets one more: the fewest paid slots,
    then the one starting nearest before it (it covers the backlog leading into it)."""
    fitting = [j for j, o in enumerate(options) if slot in o.covers]
    return min(fitting, key=lambda j: (options[j].slots, (slot - options[j].start) % slots))


def paid_hours(agents: Sequence[int], options: Sequence[ShiftOption], per: float) -> float:
    return sum(n * o.slots for n, o in zip(agents, options, strict=True)) * per / 3600.0


def on_the_phones(scheduled: int, shrinkage: float) -> int:
    """Agents answering contacts out of ``scheduled`` on shift (the rest lost to shrinkage)."""
    return math.floor(scheduled * (1 - shrinkage) + 1e-9)
