"""SLO limits: which latency limit an endpoint is held to."""

from __future__ import annotations

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
