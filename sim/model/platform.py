"""The checkout servers: FIFO workers, admission control, timeouts and autoscaling.

Written with SimPy timeouts and callbacks rather than one generator process per request: a
request costs two scheduled events (its service, and a deadline only when it has to wait),
which is what lets a whole peak day of ~15 million requests run in about a minute.

A request ends exactly once for its client: ``OK``, ``TIMEOUT`` (slower than the client's
timeout; the server keeps working on it, as real servers do, so retries add real load) or
``SHED`` (queue full or waited past ``queue_timeout``: a 503). Latency is the platform's:
from arrival to the answer, or, for a payment, to the moment the worker hands over to the
payment provider (whose own latency is reported per channel).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from ..scenario.schema import ENDPOINTS, Platform
from .streams import Pool
from .wakeup import later

OK, TIMEOUT, SHED = 0, 1, 2
QUEUED, RUNNING, DONE, DROPPED = 0, 1, 2, 3
Work = Callable[["Request", Callable[[], None]], None]
_EPS = 1e-9


class Request:
    """One HTTP request to the platform, as the server and its client see it."""

    __slots__ = ("client_waiting", "endpoint", "on_done", "owner", "payload", "result", "state",
                 "t0")

    def __init__(self, endpoint: int, on_done: Callable[[Request, int], None], owner: Any):
        self.endpoint = endpoint
        """Index into ``ENDPOINTS``."""
        self.on_done = on_done
        """Called once, with the request and its outcome, when the client learns how it ended."""
        self.owner = owner
        """Whose request this is (a shopper's session), for ``on_done``."""
        self.payload: Any = None
        """What the request carries to an endpoint's work (SKU to reserve, channel to pay)."""
        self.result: Any = None
        """What that work answered (a reservation or "sold_out", payment ok or not)."""
        self.client_waiting = True
        """False once the client has its answer (it may still be in the server)."""
        self.state = QUEUED
        self.t0 = 0.0


class Servers:
    """Workers = serving instances x workers per instance, one FIFO queue in front."""

    def __init__(self, env: simpy.Environment, spec: Platform, client_timeout: float | None,
                 rng: np.random.Generator, latencies: list[list[float]],
                 errors: list[list[int]]):
        self.env = env
        self.spec = spec
        self.per_instance = spec.workers_per_instance
        self.instances = 0
        """Instances serving now (set at the start by :mod:`sim.model.capacity`)."""
        self.warming = 0
        """Instances launched (by the autoscaler or a schedule) that do not serve yet."""
        self.floor = 1
        """Fewest instances the autoscaler keeps: ``autoscaling.min`` now (it may follow the
        clock, set by :mod:`sim.model.capacity`)."""
        self.capacity = 0
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
        self._holds: list[Work | None] = [None] * len(ENDPOINTS)
        self._afters: list[Work | None] = [None] * len(ENDPOINTS)
        self._latencies = latencies
        """Per endpoint, client-observed latencies not yet binned (the observer's buffers)."""
        self._errors = errors
        """Per outcome and endpoint, errors not yet counted (the observer's counters)."""
        self._started_at = self._finished_at = self._entered_at = self._left_at = 0.0
        self.capacity_area = 0.0
        """Integral of serving workers over time."""
        self.instance_area = 0.0
        """Integral of paid instances (serving + warming) over time (instance-seconds)."""
        self.submitted = 0
        """Requests received so far."""
        self.unanswered = 0
        """Requests whose client has no answer yet: each ends exactly once for its client."""
        self._last_capacity = 0.0
        if spec.autoscaling.enabled:
            env.process(self._autoscale())

    def attach(self, endpoint: int, hold: Work | None = None, after: Work | None = None) -> None:
        """Give an endpoint extra work: ``hold`` runs after its service demand while the worker
        is still held (a stock lock); ``after`` runs once the worker is released, before the
        client gets its answer (a payment gateway). Each calls ``done()`` when finished."""
        self._holds[endpoint] = hold
        self._afters[endpoint] = after

    # -- accounting ------------------------------------------------------------------------
    # Time integrals without per-event bookkeeping: the busy-worker integral up to now is
    # (sum of finish times) + busy x now - (sum of start times), and likewise for requests in
    # the system. Each start or finish then costs one addition.
    @property
    def busy_area(self) -> float:
        """Integral of busy workers over time (worker-seconds) up to now."""
        return self._finished_at + self.busy * self.env.now - self._started_at

    @property
    def system_area(self) -> float:
        """Integral of requests in the system (in service or queued): L in Little's law."""
        return self._left_at + (self.busy + self.queued) * self.env.now - self._entered_at

    def _advance_capacity(self) -> None:
        """Integrate serving and paid capacity up to now (called before either changes)."""
        now = self.env.now
        span = now - self._last_capacity
        if span:
            self.capacity_area += self.capacity * span
            self.instance_area += (self.instances + self.warming) * span
            self._last_capacity = now

    def sync(self) -> None:
        """Bring the capacity integrals up to now, before reading them."""
        self._advance_capacity()

    # -- requests --------------------------------------------------------------------------
    def submit(self, request: Request) -> None:
        """A request arrives: start it, queue it, or shed it."""
        now = request.t0 = self.env.now
        self.submitted += 1
        self.unanswered += 1
        if self.busy < self.capacity:
            self._entered_at += now
            self._start(request)
        elif self.max_queue is not None and self.queued >= self.max_queue:
            request.state = DROPPED
            self._respond(request, SHED)
        else:
            self._entered_at += now
            self.queue.append(request)
            self.queued += 1
            if self._wait_limit is not None:
                later(self.env, self._wait_limit, self._waited, request)

    def _waited(self, event: simpy.Event) -> None:
        """A queued request reached the client's timeout or the queue timeout."""
        request: Request = event._value
        if request.state != QUEUED:
            return
        now = self.env.now
        waited = now - request.t0
        if self.queue_timeout is not None and waited >= self.queue_timeout - _EPS:
            request.state = DROPPED
            self.queued -= 1
            self._left_at += now
            if request.client_waiting:
                self._respond(request, SHED)
            return
        if request.client_waiting:
            self._respond(request, TIMEOUT)
        if self.queue_timeout is not None:
            later(self.env, self.queue_timeout - waited, self._waited, request)

    def _start(self, request: Request) -> None:
        now = self.env.now
        self._started_at += now
        self.busy += 1
        request.state = RUNNING
        service = self._service[request.endpoint]()  # type: ignore[misc]  # configured ones only
        hold = self._holds[request.endpoint]
        limit = self.client_timeout
        if limit is not None and request.client_waiting:
            # Without extra work the answer time is known now; with it, arm the deadline.
            left = request.t0 + limit - now
            if hold is not None or service > left:
                later(self.env, max(left, 0.0), self._gave_up, request)
        later(self.env, service, self._served if hold is None else self._holding, request)

    def _gave_up(self, event: simpy.Event) -> None:
        request: Request = event._value
        if request.client_waiting:
            self._respond(request, TIMEOUT)

    def _holding(self, event: simpy.Event) -> None:
        request: Request = event._value
        hold = self._holds[request.endpoint]
        assert hold is not None  # _start schedules _holding only for an endpoint with a hold
        hold(request, lambda: self._release(request))

    def _served(self, event: simpy.Event) -> None:
        self._release(event._value)

    def _release(self, request: Request) -> None:
        now = self.env.now
        self._finished_at += now
        self._left_at += now
        self.busy -= 1
        request.state = DONE
        # The freed worker takes the longest-waiting request before the client hears back:
        # a follow-up sent at once (no think time) queues behind it instead of jumping it.
        if self.queue:
            self._pull()
        if request.client_waiting:
            after = self._afters[request.endpoint]
            if after is None:
                self._respond(request, OK)
            else:
                # The platform's latency ends here; the client waits on for the provider.
                self._record(request, OK)
                after(request, lambda: self._answer(request, OK))

    def _pull(self) -> None:
        queue = self.queue
        while queue and self.busy < self.capacity:
            request = queue.popleft()
            if request.state == QUEUED:
                self.queued -= 1
                self._start(request)

    def _respond(self, request: Request, outcome: int) -> None:
        self._record(request, outcome)
        self._answer(request, outcome)

    def _record(self, request: Request, outcome: int) -> None:
        """Latency and outcome as the platform's figures count them."""
        endpoint = request.endpoint
        self._latencies[endpoint].append(self.env.now - request.t0)
        if outcome:
            self._errors[outcome][endpoint] += 1

    def _answer(self, request: Request, outcome: int) -> None:
        request.client_waiting = False
        self.unanswered -= 1
        request.on_done(request, outcome)

    # -- autoscaling -----------------------------------------------------------------------
    def _autoscale(self):
        """Kubernetes-HPA-like: desired = ceil(serving x utilization / target), 10% tolerance.

        Scale-out launches instances that serve after ``warmup``. Scale-in follows the highest
        recommendation of the last ``stabilization`` window (HPA's downscale stabilization),
        so one quiet minute after a burst does not throw away the capacity just bought.
        """
        auto = self.spec.autoscaling
        last_busy, last_capacity = 0.0, 0.0
        recent: deque[tuple[float, int]] = deque([(0.0, self.instances)])
        while True:
            yield self.env.timeout(auto.interval)
            self.sync()
            now = self.env.now
            busy, capacity = self.busy_area - last_busy, self.capacity_area - last_capacity
            last_busy, last_capacity = self.busy_area, self.capacity_area
            utilization = busy / capacity if capacity else 1.0
            desired = self.instances
            if abs(utilization / auto.target_utilization - 1) > 0.1:
                desired = math.ceil(self.instances * utilization / auto.target_utilization)
            desired = max(self.floor, min(auto.max, desired))
            recent.append((now, desired))
            while recent[0][0] < now - auto.stabilization:
                recent.popleft()
            if desired > self.instances + self.warming:
                self.launch(desired - self.instances - self.warming, auto.warmup)
            else:
                floor = max(d for _, d in recent)
                if floor < self.instances and not self.warming:
                    self.serve(floor)

    def launch(self, count: int, ready_in: float) -> None:
        """Start ``count`` instances now (paid from now) that serve ``ready_in`` later."""
        self.sync()
        self.warming += count
        later(self.env, ready_in, self._warmed, count)

    def serve(self, instances: int) -> None:
        """Have ``instances`` serving from now; requests in hand finish where they are."""
        self.sync()
        self.instances = instances
        self.capacity = instances * self.per_instance
        self._pull()

    def _warmed(self, event: simpy.Event) -> None:
        launched: int = event._value
        self.sync()
        self.warming -= launched
        self.instances += launched
        self.capacity = self.instances * self.per_instance
        self._pull()
