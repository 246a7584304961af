"""The checkout servers: FIFO workers, admission control, timeouts and autoscaling.

Written with SimPy timeouts and callbacks rather than one generator process per request: a
request costs two scheduled events (its service, and a deadline only when it has to wait),
which is what lets a whole peak day of ~15 million requests run in about a minute.

A request ends exactly once for its client: ``OK``, ``TIMEOUT`` (slower than the client's
timeout; the server keeps working on it, as real servers do, so retries add real load) or
``SHED`` (queue full or waited past ``queue_timeout``: a 503).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np
import simpy

from ..scenario.schema import ENDPOINTS, Platform
from .streams import Pool

OK, TIMEOUT, SHED = 0, 1, 2
OUTCOMES = ("ok", "timeout", "shed")
QUEUED, RUNNING, DONE, DROPPED = 0, 1, 2, 3
_EPS = 1e-9


class Client(Protocol):
    def on_response(self, request: Request, outcome: int) -> None:
        """Called once per request, when the client learns how it ended."""


class Request:
    """One HTTP request to the platform, as the server and its client see it."""

    __slots__ = ("client", "client_waiting", "endpoint", "state", "t0")

    def __init__(self, endpoint: int, client: Client):
        self.endpoint = endpoint
        """Index into ``ENDPOINTS``."""
        self.client = client
        self.client_waiting = True
        """False once the client has its answer (it may still be in the server)."""
        self.state = QUEUED
        self.t0 = 0.0


class Servers:
    """Workers = serving instances x workers per instance, one FIFO queue in front."""

    def __init__(self, env: simpy.Environment, spec: Platform, client_timeout: float | None,
                 rng: np.random.Generator,
                 record: Callable[[int, float, int], None]):
        self.env = env
        self.spec = spec
        self.per_instance = spec.workers_per_instance
        self.instances = spec.instances
        """Instances serving now."""
        self.warming = 0
        """Instances launched by the autoscaler that do not serve yet."""
        self.capacity = self.instances * self.per_instance
        self.busy = 0
        self.queue: deque[Request] = deque()
        self.queued = 0
        """Live requests in the queue (the deque also holds dropped ones, skipped lazily)."""
        self.max_queue = spec.admission.max_queue
        self.queue_timeout = spec.admission.queue_timeout
        self.client_timeout = client_timeout
        waits = [w for w in (self.queue_timeout, client_timeout) if w is not None]
        self._wait_limit = min(waits) if waits else None
        self._service = [Pool(spec.endpoints[e].service, rng) if e in spec.endpoints else None
                         for e in ENDPOINTS]
        self._record = record
        self.busy_area = 0.0
        """Integral of busy workers over time (worker-seconds)."""
        self.capacity_area = 0.0
        """Integral of serving workers over time."""
        self.instance_area = 0.0
        """Integral of paid instances (serving + warming) over time (instance-seconds)."""
        self.submitted = 0
        """Requests received so far."""
        self.unanswered = 0
        """Requests whose client has no answer yet: each ends exactly once for its client."""
        self.system_area = 0.0
        """Integral of requests in the system (in service or queued): L in Little's law."""
        self._last = 0.0
        if spec.autoscaling.enabled:
            env.process(self._autoscale())

    # -- accounting ------------------------------------------------------------------------
    def _advance(self) -> None:
        now = self.env.now
        span = now - self._last
        if span:
            self.busy_area += self.busy * span
            self.capacity_area += self.capacity * span
            self.instance_area += (self.instances + self.warming) * span
            self.system_area += (self.busy + self.queued) * span
            self._last = now

    # -- requests --------------------------------------------------------------------------
    def submit(self, request: Request) -> None:
        """A request arrives: start it, queue it, or shed it."""
        request.t0 = self.env.now
        self.submitted += 1
        self.unanswered += 1
        if self.busy < self.capacity:
            self._start(request)
        elif self.max_queue is not None and self.queued >= self.max_queue:
            request.state = DROPPED
            self._respond(request, SHED)
        else:
            self._advance()
            self.queue.append(request)
            self.queued += 1
            if self._wait_limit is not None:
                self.env.timeout(self._wait_limit, request).callbacks.append(self._waited)

    def _waited(self, event: simpy.Event) -> None:
        """A queued request reached the client's timeout or the queue timeout."""
        request: Request = event._value
        if request.state != QUEUED:
            return
        waited = self.env.now - request.t0
        if self.queue_timeout is not None and waited >= self.queue_timeout - _EPS:
            self._advance()
            request.state = DROPPED
            self.queued -= 1
            if request.client_waiting:
                self._respond(request, SHED)
            return
        if request.client_waiting:
            self._respond(request, TIMEOUT)
        if self.queue_timeout is not None:
            remaining = self.queue_timeout - waited
            self.env.timeout(remaining, request).callbacks.append(self._waited)

    def _start(self, request: Request) -> None:
        self._advance()
        self.busy += 1
        request.state = RUNNING
        service = self._service[request.endpoint]()
        limit = self.client_timeout
        if request.client_waiting and limit is not None:
            late = self.env.now + service - request.t0 - limit
            if late > 0:
                self.env.timeout(service - late, request).callbacks.append(self._gave_up)
        self.env.timeout(service, request).callbacks.append(self._finish)

    def _gave_up(self, event: simpy.Event) -> None:
        request: Request = event._value
        if request.client_waiting:
            self._respond(request, TIMEOUT)

    def _finish(self, event: simpy.Event) -> None:
        request: Request = event._value
        self._advance()
        self.busy -= 1
        request.state = DONE
        if request.client_waiting:
            self._respond(request, OK)
        self._pull()

    def _pull(self) -> None:
        queue = self.queue
        while queue and self.busy < self.capacity:
            request = queue.popleft()
            if request.state == QUEUED:
                self._advance()
                self.queued -= 1
                self._start(request)

    def _respond(self, request: Request, outcome: int) -> None:
        request.client_waiting = False
        self.unanswered -= 1
        self._record(request.endpoint, self.env.now - request.t0, outcome)
        request.client.on_response(request, outcome)

    # -- autoscaling -----------------------------------------------------------------------
    def _autoscale(self):
        """Kubernetes-HPA-like: desired = ceil(serving x utilization / target), 10% tolerance."""
        auto = self.spec.autoscaling
        last_busy, last_capacity = 0.0, 0.0
        while True:
            yield self.env.timeout(auto.interval)
            self._advance()
            busy, capacity = self.busy_area - last_busy, self.capacity_area - last_capacity
            last_busy, last_capacity = self.busy_area, self.capacity_area
            utilization = busy / capacity if capacity else 1.0
            if abs(utilization / auto.target_utilization - 1) <= 0.1:
                continue
            desired = math.ceil(self.instances * utilization / auto.target_utilization)
            desired = max(auto.min, min(auto.max, desired))
            if desired > self.instances + self.warming:
                launch = desired - self.instances - self.warming
                self.warming += launch
                self.env.timeout(auto.warmup, launch).callbacks.append(self._warmed)
            elif desired < self.instances and not self.warming:
                self.instances = desired
                self.capacity = desired * self.per_instance

    def _warmed(self, event: simpy.Event) -> None:
        launched: int = event._value
        self._advance()
        self.warming -= launched
        self.instances += launched
        self.capacity = self.instances * self.per_instance
        self._pull()
