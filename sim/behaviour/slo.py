"""SLO limits: which latency limit an endpoint is held to, and when a figure breaks one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..scenario.schema import Slo


def limit_for(slo: Slo | None, endpoint: str) -> float | None:
    """The p99 latency limit (seconds) of ``endpoint``: its own, else the scenario's default,
    else None (not judged). The model's verdict, the drill's thresholds and the report's
    latency table all ask here, so an endpoint is never judged against two limits."""
    if slo is None:
        return None
    limits = slo.latency_p99
    own = limits.get(endpoint)  # type: ignore[call-overload]  # any name; unknown ones miss
    return own if own is not None else limits.get("default")


@dataclass(frozen=True, slots=True)
class Violation:
    """A figure past its SLO ceiling (a latency p99, an error rate)."""

    metric: str
    endpoint: str
    """The endpoint judged, or ``all``."""
    value: float
    limit: float

    @property
    def over_by(self) -> str:
        """How far past the limit, for people: ``35%``."""
        return f"{(self.value / self.limit - 1):.0%}" if self.limit else "n/a"


def judge(metric: str, endpoint: str, value: float, limit: float) -> Violation | None:
    """The Violation when ``value`` breaks the ceiling ``limit``, else None. Reaching the limit
    meets it (float rounding included): the model's verdict (``sim/results/slo.py``) and the drill's
    thresholds (``loadtests/recorder.py``) judge with this one rule."""
    if value <= limit or math.isclose(value, limit):
        return None
    return Violation(metric, endpoint, value, limit)
