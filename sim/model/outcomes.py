"""What one replication's parts report at its end, as typed records.

The summary (``sim.summary``, ``sim.sections``) reads these by attribute: a cause, a stage or a
figure spelled wrong fails the type checker or the constructor where it is made, not as a
``KeyError`` (or a silently missing column) in a report hours later. They are plain frozen
data, so an :class:`~sim.model.observer.Observation` stays picklable across processes and
Dask workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .customers import STAGES, Tally


@dataclass(frozen=True)
class Lost:
    """Sales lost to one cause: how many and what they were worth."""

    count: int
    value: float


@dataclass(frozen=True)
class Losses:
    """Sales lost, by cause, and sessions that gave up after platform errors, by the stage
    they had reached (``customers.LOST_CAUSES`` and ``customers.STAGES``, every one present).

    The totals are taken when the tally is read, not summed again from ``by_cause``: the
    warm-up subtraction (:meth:`since`) then works on exactly the numbers that were added up,
    so the measured part of the day is the same to the last bit however it is regrouped.
    """

    count: int
    value: float
    by_cause: Mapping[str, Lost]
    gave_up: Mapping[str, int]
    """Sessions that gave up after platform errors, by stage (browse, cart, checkout, pay)."""

    @classmethod
    def of(cls, tally: Tally) -> Losses:
        """The losses a session tally holds so far."""
        return cls(
            count=sum(tally.lost_count.values()),
            value=sum(tally.lost.values()),
            by_cause={cause: Lost(n, tally.lost[cause]) for cause, n in tally.lost_count.items()},
            gave_up=dict(zip(STAGES, tally.gave_up, strict=True)),
        )

    def since(self, earlier: Losses) -> Losses:
        """The losses after ``earlier`` (the tally at the end of the warm-up)."""
        return Losses(
            count=self.count - earlier.count,
            value=self.value - earlier.value,
            by_cause={cause: Lost(lost.count - earlier.by_cause[cause].count,
                                  lost.value - earlier.by_cause[cause].value)
                      for cause, lost in self.by_cause.items()},
            gave_up={stage: n - earlier.gave_up[stage] for stage, n in self.gave_up.items()},
        )
