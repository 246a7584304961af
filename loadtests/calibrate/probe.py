"""The target's own CPU time, read from its Prometheus ``/metrics``.

``process_cpu_seconds_total`` (user + system CPU seconds of the serving process, as the
Prometheus client libraries' process collectors and the reference service expose it) read
before and after a step gives the CPU the step cost: the service demand law D = U / X, summed
over the step, is D = CPU seconds / requests completed. A target that does not expose it is
calibrated from latency alone.
"""

from __future__ import annotations

import time

import httpx

CPU_METRIC = "process_cpu_seconds_total"
IDLE_S = 1.0
"""Seconds between the two readings that measure the target's CPU when idle."""


def cpu_seconds(target: str) -> float | None:
    """The target's CPU seconds so far, or None when its /metrics does not say."""
    try:
        reply = httpx.get(f"{target.rstrip('/')}/metrics", timeout=5.0)
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    for line in reply.text.splitlines():
        name, _, value = line.partition(" ")
        if name.split("{", 1)[0] == CPU_METRIC:
            try:
                return float(value.split()[0])
            except (ValueError, IndexError):
                return None
    return None


def idle_rate(target: str) -> float | None:
    """CPU seconds per second the target spends with no load (sweepers, the scrape itself):
    subtracted from each step's CPU."""
    first, since = cpu_seconds(target), time.monotonic()
    if first is None:
        return None
    time.sleep(IDLE_S)
    second = cpu_seconds(target)
    if second is None:
        return None
    return max(0.0, (second - first) / (time.monotonic() - since))
