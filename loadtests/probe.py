"""The target's own figures, read from its Prometheus ``/metrics``: CPU time, and the time its
requests spent inside it per route.

``process_cpu_seconds_total`` (user + system CPU seconds of the serving process, as the
Prometheus client libraries' process collectors and the reference service expose it) read
before and after a step gives the CPU the step cost: the service demand law D = U / X, summed
over the step, is D = CPU seconds / requests completed. A target that does not expose it is
calibrated from latency alone. A drill reads it the same way around its load: the CPU per
request it observes, beside the one its prediction assumed (comparison.json), says whether a
latency miss is the model's or a target that ran slower or faster than it was calibrated.

A per-route latency histogram (``peakday_request_seconds``, labelled ``route``, as the
reference service exposes it) read the same way gives the mean time a request of each route
spent inside the server: how the CPU splits between endpoints, with none of the client's or
the network's time in it (fit.py). A target without it is split by light-load latency.
"""

from __future__ import annotations

import re
import time

import httpx

CPU_METRIC = "process_cpu_seconds_total"
ROUTE_METRIC = "peakday_request_seconds"
IDLE_S = 1.0
"""Seconds between the two readings that measure the target's CPU when idle."""
SETTLE_EVERY_S, SETTLE_S = 0.5, 30.0
"""How often, and how long at most, to read the target's CPU while it drains a step's left
work."""
BUSY = 0.05
"""CPU seconds per second over the idle rate that still count as busy."""
_ROUTE = re.compile(r'\{[^}]*route="([^"]*)"[^}]*\}')


def metrics(target: str) -> str | None:
    """The target's /metrics text, or None when it does not answer one."""
    try:
        reply = httpx.get(f"{target.rstrip('/')}/metrics", timeout=5.0)
    except httpx.HTTPError:
        return None
    return reply.text if reply.status_code == 200 else None


def cpu_seconds(text: str | None) -> float | None:
    """The target's CPU seconds so far, or None when its /metrics does not say."""
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name.split("{", 1)[0] == CPU_METRIC:
            try:
                return float(value.split()[0])
            except (ValueError, IndexError):
                return None
    return None


def cpu_between(before: str | None, after: str | None, idle: float | None,
                elapsed: float) -> float | None:
    """CPU seconds the target spent between two /metrics readings ``elapsed`` seconds apart,
    beyond its idle rate; None when either reading does not say."""
    first, last = cpu_seconds(before), cpu_seconds(after)
    if first is None or last is None:
        return None
    return max(0.0, last - first - (idle or 0.0) * elapsed)


def route_seconds(text: str | None) -> dict[str, tuple[float, int]]:
    """Per route: (seconds spent inside the server, requests) so far; {} when not exposed."""
    found: dict[str, list[float]] = {}
    for line in (text or "").splitlines():
        name, _, rest = line.partition("{")
        if name not in (f"{ROUTE_METRIC}_sum", f"{ROUTE_METRIC}_count"):
            continue
        match = _ROUTE.match("{" + rest)
        try:
            value = float(line.rsplit(" ", 1)[1])
        except (ValueError, IndexError):
            continue
        if match:
            pair = found.setdefault(match.group(1), [0.0, 0.0])
            pair[name.endswith("_count")] = value
    return {route: (seconds, int(count)) for route, (seconds, count) in found.items()}


def idle_rate(target: str) -> float | None:
    """CPU seconds per second the target spends with no load (sweepers, the scrape itself):
    subtracted from each step's CPU."""
    first, since = cpu_seconds(metrics(target)), time.monotonic()
    if first is None:
        return None
    time.sleep(IDLE_S)
    second = cpu_seconds(metrics(target))
    if second is None:
        return None
    return max(0.0, (second - first) / (time.monotonic() - since))


def settle(target: str, idle: float | None) -> None:
    """Wait (SETTLE_S at most) until the target's CPU rate is back to idle: past saturation
    it still serves requests whose clients the step's end abandoned, and a step that met that
    work would count it as its own (on the loopback target, a worker more than it has)."""
    last, since = cpu_seconds(metrics(target)), time.monotonic()
    deadline = since + SETTLE_S
    while last is not None and time.monotonic() < deadline:
        time.sleep(SETTLE_EVERY_S)
        now, at = cpu_seconds(metrics(target)), time.monotonic()
        if now is None or (now - last) / (at - since) <= (idle or 0.0) + BUSY:
            return
        last, since = now, at
