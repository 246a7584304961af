"""What one replication measures: latencies, outcomes and the per-minute series.

The hot path (:meth:`Observer.record`) appends a latency to a list and bumps a counter. Once a
simulated minute, :meth:`Observer.tick` bins the minute's latencies (numpy), adds them to the
whole-run and per-phase histograms, and appends one row to the series. The model never prints
and never touches files: the :class:`Observation` it returns is plain data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from ..metrics import Histogram
from ..scenario.schema import ENDPOINTS, Clock, Scenario
from .outcomes import Losses, Parts
from .platform import SHED, TIMEOUT, Servers

MINUTE = 60.0


@dataclass
class Observation:
    """Everything one replication measured; picklable, merged across replications by run.py."""

    counters: dict[str, float]
    losses: Losses
    """Sales lost after the warm-up, by cause and by the stage shoppers gave up at."""
    latency: dict[str, Histogram]
    """Whole-run latency per endpoint and ``all`` (client-observed, seconds)."""
    phase_latency: dict[str, dict[str, Histogram]]
    hourly_latency: list[dict[str, Histogram]]
    """Latency per hour of the run (after warm-up) and endpoint."""
    series: dict[str, np.ndarray]
    """One value per simulated minute, keyed by timeseries column."""
    parts: Parts
    """What the promotion-day parts report: stock, flash sales, coupons, payments, support."""


class Observer:
    """Collects measurements during one replication."""

    def __init__(self, env: simpy.Environment, scenario: Scenario,
                 progress: Callable[[float], None] | None = None):
        self.env = env
        self.scenario = scenario
        self._progress = progress
        n = len(ENDPOINTS)
        self.latencies: list[list[float]] = [[] for _ in range(n)]
        """Per endpoint, this minute's latencies: the platform appends, :meth:`tick` bins."""
        self.errors = [[0] * n for _ in range(3)]
        """Per outcome (OK unused, TIMEOUT, SHED) and endpoint, this minute."""
        self.warmup = scenario.clock.warmup
        self.totals = {e: Histogram() for e in (*ENDPOINTS, "all")}
        self.hourly: list[dict[str, Histogram]] = []
        """Latency per endpoint and hour: SLOs are judged hour by hour."""
        self.phases = {name: {e: Histogram() for e in (*ENDPOINTS, "all")}
                       for name in scenario.traffic.phases}
        self._phase_windows = {name: scenario.clock.window(start, end)
                               for name, (start, end) in scenario.traffic.phases.items()}
        self._length = math.ceil(scenario.clock.duration / MINUTE)
        self.rows: dict[str, np.ndarray] = {}
        """One float64 array per column, sized to the run's minutes when first written: 8
        bytes a value, allocated once (Python lists of floats took four times that)."""
        self._closed = 0
        self.servers: Servers | None = None
        self.sessions: Callable[[], tuple[int, int]] = lambda: (0, 0)
        """Sessions started so far, and sessions in progress now."""
        self._last = {"busy": 0.0, "capacity": 0.0, "sessions": 0}
        self.on_minute: list[Callable[[], None]] = []
        """Called at the end of each minute (to bin buffered waits and latencies)."""
        self.gauges: list[tuple[str, Callable[[], float]]] = []
        """Extra columns read once a minute (stock per SKU, support queue, ...)."""
        self.timeouts = 0
        self.shed = 0
        self.responses = 0

    # -- once a minute --------------------------------------------------------------------
    def ticker(self):
        """A SimPy process: close a minute every simulated minute."""
        while True:
            yield self.env.timeout(MINUTE)
            self.tick()

    @property
    def minutes(self) -> int:
        """Minutes closed so far."""
        return self._closed

    def tick(self) -> None:
        """Close a minute: bin its latencies, count its errors, read the servers and gauges,
        and write its row of the minute series."""
        start = self.minutes * MINUTE
        measured = start >= self.warmup
        row: dict[str, float] = {"minute": self.minutes}
        minute_all, requests, timeouts, shed = self._bin_latencies(row, self._targets(start))
        if measured:
            self.responses += requests
            self.timeouts += timeouts
            self.shed += shed
        sessions, active = self.sessions()
        row.update({
            "arrivals": sessions - self._last["sessions"],
            "active_sessions": active,
            "requests": requests,
            "p50_ms": minute_all.quantile(0.5) * 1000,
            "p99_ms": minute_all.quantile(0.99) * 1000,
            "errors": timeouts + shed,
            "timeouts": timeouts,
            "shed": shed,
        })
        self._last["sessions"] = sessions
        if self.servers is not None:
            row.update(self._server_columns(self.servers))
        for name, read in self.gauges:
            row[name] = read()
        for call in self.on_minute:
            call()
        self._write(row)
        if self._progress is not None:
            self._progress(self.env.now)

    def _targets(self, start: float) -> list[dict[str, Histogram]]:
        """The histograms a minute starting at ``start`` adds to: none during the warm-up;
        after it the day's, its phases' and its hour's."""
        if start < self.warmup:
            return []
        hour = int(start // 3600)
        while len(self.hourly) <= hour:
            self.hourly.append({})
        return [self.totals, *(self.phases[name] for name in self._phases_at(start)),
                self.hourly[hour]]

    def _bin_latencies(self, row: dict[str, float], targets: list[dict[str, Histogram]]
                       ) -> tuple[Histogram, int, int, int]:
        """Bin each endpoint's buffered latencies into ``targets`` and its row columns, and
        reset the minute's buffers and error counts: (all endpoints' histogram, requests,
        timeouts, shed) of the minute."""
        minute_all = Histogram()
        requests = timeouts = shed = 0
        for index, endpoint in enumerate(ENDPOINTS):
            buffer = self.latencies[index]
            n = len(buffer)
            t, s = self.errors[TIMEOUT][index], self.errors[SHED][index]
            self.errors[TIMEOUT][index] = self.errors[SHED][index] = 0
            requests, timeouts, shed = requests + n, timeouts + t, shed + s
            row[f"requests_{endpoint}"] = n
            row[f"p99_ms_{endpoint}"] = math.nan
            if n:
                hist = Histogram()
                hist.add_values(np.asarray(buffer))
                buffer.clear()
                row[f"p99_ms_{endpoint}"] = hist.quantile(0.99) * 1000
                minute_all.merge(hist)
                for target in targets:
                    target.setdefault(endpoint, Histogram()).merge(hist)
        for target in targets:
            target.setdefault("all", Histogram()).merge(minute_all)
        return minute_all, requests, timeouts, shed

    def _server_columns(self, servers: Servers) -> dict[str, float]:
        """Instances serving (the minute's mean), warming, queue and utilization."""
        servers.sync()
        busy = servers.busy_area - self._last["busy"]
        capacity = servers.capacity_area - self._last["capacity"]
        self._last["busy"], self._last["capacity"] = servers.busy_area, servers.capacity_area
        return {
            "instances": capacity / (servers.per_instance * MINUTE) if capacity
            else servers.instances,
            "warming": servers.warming,
            "queue": servers.queued,
            "utilization": busy / capacity if capacity else 0.0,
        }

    def _write(self, row: dict[str, float]) -> None:
        """Store ``row`` as this minute's values and close the minute."""
        rows, minute = self.rows, self._closed
        for key, value in row.items():
            if key not in rows:
                rows[key] = np.full(self._length, math.nan)
            rows[key][minute] = value
        self._closed = minute + 1

    def _phases_at(self, t: float) -> list[str]:
        return [name for name, window in self._phase_windows.items() if Clock.inside(t, window)]

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """Add a column to the minute series, read by ``read()`` at the end of each minute."""
        self.gauges.append((name, read))

    def observation(self, counters: dict[str, float], losses: Losses,
                    parts: Parts) -> Observation:
        return Observation(
            parts=parts,
            counters=counters,
            losses=losses,
            latency=self.totals,
            phase_latency=self.phases,
            hourly_latency=self.hourly,
            series={k: v[:self._closed] for k, v in self.rows.items()},
        )
