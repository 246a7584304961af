"""The checkout servers: FIFO workers, admission control, timeouts and autoscaling.

Written with SimPy callbacks rather than one generator process per request: a request costs
one scheduled event, its service, for which the request is its own event (wakeup.py). Queue
and client deadlines are kept in two FIFO lines (deadlines.py), each with a single pending
wakeup, since every request waits the same limit.

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
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from ..scenario.schema import ENDPOINTS, Platform
from .deadlines import Deadlines
from .streams import pool
from .wakeup import Callbacks, Wakeable, later, wake

OK, TIMEOUT, SHED = 0, 1, 2
Work = Callable[["Request", Callable[[], None]], None]


class Request(Wakeable):
    """One HTTP request to the platform, as the server and its client see it (and the event
    that ends its service)."""

    __slots__ = ("client_waiting", "endpoint", "on_done", "owner", "payload", "result", "t0")

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
        """True while the platform owes the client an answer: False once the client has it
        (the request may still be in the server) or was handed over to a payment provider."""
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
        self.max_queue = spec.admission.max_queue
        self.queue: Deadlines[Request] = Deadlines(env, spec.admission.queue_timeout,
                                                   self._queue_timed_out)
        """Requests waiting for a worker, oldest first; shed at ``queue_timeout``."""
        self.client_timeout = client_timeout
        self._clients: Deadlines[Request] | None = None if client_timeout is None else \
            Deadlines(env, client_timeout, self._client_timed_out, _client_waiting)
        """Requests whose answer may come after the client's timeout (all that queue, and
        those whose service or held work may outlast it), in arrival order."""
        self._client_limit = math.inf if self._clients is None else self._clients.limit
        """A request whose service takes longer joins the client line (inf: no line)."""
        self._lined = [False] * len(ENDPOINTS)
        """Per endpoint, whether every request joins the client line (held work of unknown
        length follows its service)."""
        self._service = [pool(spec.endpoints[e].service, rng) if e in spec.endpoints else None
                         for e in ENDPOINTS]
        self._holds: list[Work | None] = [None] * len(ENDPOINTS)
        self._afters: list[Work | None] = [None] * len(ENDPOINTS)
        self._served: list[Callbacks] = [(self._release,)] * len(ENDPOINTS)
        """Per endpoint, what runs when a request's service demand is met."""
        self._latencies = latencies
        """Per endpoint, client-observed latencies not yet binned (the observer's buffers)."""
        self._errors = errors
        """Per outcome and endpoint, errors not yet counted (the observer's counters)."""
        self._started_at = self._finished_at = self._entered_at = self._dropped_at = 0.0
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
        self._lined[endpoint] = hold is not None and self._clients is not None
        self._served[endpoint] = (self._release,) if hold is None else (self._holding,)

    # -- accounting ------------------------------------------------------------------------
    # Time integrals without per-event bookkeeping: the busy-worker integral up to now is
    # (sum of finish times) + busy x now - (sum of start times), and likewise for requests in
    # the system. Each start or finish then costs one addition.
    @property
    def busy_area(self) -> float:
        """Integral of busy workers over time (worker-seconds) up to now."""
        return self._finished_at + self.busy * self.env.now - self._started_at

    @property
    def queued(self) -> int:
        """Requests waiting for a worker."""
        return len(self.queue.items)

    @property
    def system_area(self) -> float:
        """Integral of requests in the system (in service or queued): L in Little's law."""
        return (self._finished_at + self._dropped_at + (self.busy + self.queued) * self.env.now
                - self._entered_at)

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
        now = request.t0 = self.env._now
        self.submitted += 1
        self.unanswered += 1
        if self.busy < self.capacity:
            # _start inline, and its wake: once per request, the calls cost more than the work.
            self._entered_at += now
            self._started_at += now
            self.busy += 1
            endpoint = request.endpoint
            service = self._service[endpoint]()  # type: ignore[misc]  # configured ones only
            request.callbacks = self._served[endpoint]
            env = self.env
            entry = (now + service, NORMAL, next(env._eid), request)
            heappush(env._queue, entry)  # type: ignore[misc]  # a Wakeable: see wakeup.py
            if service > self._client_limit or self._lined[endpoint]:
                self._clients.add(request)  # type: ignore[union-attr]  # limits imply a line
        elif self.max_queue is not None and len(self.queue.items) >= self.max_queue:
            self._respond(request, SHED)
        else:
            self._entered_at += now
            self.queue.add(request)
            if self._clients is not None:
                self._clients.add(request)

    def _queue_timed_out(self, request: Request) -> None:
        """A request waited ``queue_timeout`` for a worker: shed (503) if its client waits."""
        self._dropped_at += self.env._now
        if request.client_waiting:
            self._respond(request, SHED)

    def _client_timed_out(self, request: Request) -> None:
        """The client gives up (queued or in service); the server keeps what it holds."""
        self._respond(request, TIMEOUT)

    def _start(self, request: Request) -> float:
        """Give ``request`` a worker; returns its service demand."""
        env = self.env
        self._started_at += env._now
        self.busy += 1
        endpoint = request.endpoint
        service = self._service[endpoint]()  # type: ignore[misc]  # configured ones only
        wake(env, service, request, self._served[endpoint])
        return service

    def _holding(self, request: Request) -> None:
        hold = self._holds[request.endpoint]
        assert hold is not None  # only endpoints with a hold are served through here
        hold(request, lambda: self._release(request))

    def _release(self, request: Request) -> None:
        now = self.env._now
        self._finished_at += now
        self.busy -= 1
        # The freed worker takes the longest-waiting request before the client hears back:
        # a follow-up sent at once (no think time) queues behind it instead of jumping it.
        if self.queue.items:
            self._pull()
        if request.client_waiting:
            # The platform's latency ends here (for a payment, the client waits on for the
            # provider, beyond the reach of the platform's client timeout).
            request.client_waiting = False
            endpoint = request.endpoint
            self._latencies[endpoint].append(now - request.t0)
            after = self._afters[endpoint]
            if after is None:
                self.unanswered -= 1
                request.on_done(request, OK)
            else:
                after(request, lambda: self._answer(request, OK))

    def _pull(self) -> None:
        waiting = self.queue.items
        while waiting and self.busy < self.capacity:
            self._start(waiting.popleft()[1])

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
        self.serve(self.instances + launched)


def _client_waiting(request: Request) -> bool:
    return request.client_waiting
