"""The shoppers of a drill: Locust users that start scheduled visits and walk their journeys.

Each process of a drill holds one :class:`DrillState`: its share of the schedule (a queue in
start order), the recorder, and the drill's time zero. It hangs on Locust's ``Environment``
(:func:`attach`), where Locust keeps a run's runner, stats and shape, and each user finds it
there: no module global that a second drill in the same process, or a test, would have to set
and restore. A :class:`Shopper` takes the next visit,
sleeps until its start, then walks the steps over real HTTP: platform errors (5xx, timeouts,
refused connections) and declined payments are retried by the shopper's rules in
``sim.behaviour.retries`` (the model's own), a "sold out" ends the visit. Think times and
backoffs are compressed. A redirect is an answer, counted as an error and never followed,
unless the scenario sets ``drill.follow_redirects``; then each hop goes out only if its host is
on the allow-list.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urljoin

import gevent
from gevent.event import Event
from locust import FastHttpUser, task
from locust.env import Environment

from sim.behaviour.retries import next_channel, payment_retry, platform_retry
from sim.scenario.schema import DRILL_WINDOW, Clock, Scenario

from .recorder import Recorder
from .safety import AllowList, UnsafeTarget, check_target
from .schedule import Plan, Visit

BODY_FREE = {"home", "product"}
IDLE_POLL = 0.05
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 5
"""Redirects followed at most per request (with drill.follow_redirects)."""


@dataclass
class DrillState:
    """Everything the users of one process share."""

    scenario: Scenario
    plan: Plan
    visits: deque[Visit] = field(default_factory=deque)
    recorder: Recorder = field(default_factory=Recorder)
    t0: float | None = None
    """Wall-clock time (time.time()) of the schedule's zero; set when the test starts."""
    in_flight: int = 0
    extra_hosts: tuple[str, ...] = ()
    """Hosts allowed besides the scenario's drill.allowed_hosts (--allow-host)."""
    allowed: AllowList = field(init=False)
    """Where requests may go: every runner checks its target, every redirect hop is checked."""

    def __post_init__(self) -> None:
        self.allowed = AllowList(self.scenario.drill.allowed_hosts, self.extra_hosts)
        clock = self.scenario.clock
        self.routes: dict[str, tuple[str, str]] = {
            step: tuple(route.split(" ", 1))  # type: ignore[misc]
            for step, route in self.scenario.drill.endpoints.items()}
        """Journey step -> (method, path template), from drill.endpoints."""
        self._phases = [(name, clock.window(start, end))
                        for name, (start, end) in self.scenario.traffic.phases.items()]

    run: str = ""
    """Names this drill's shoppers and payment keys apart from another drill's against the same
    target (schedules restart at s1 with every drill): from the shared time zero, so every
    process of a distributed drill agrees on it."""

    cpu_from: float | None = None
    """This process's CPU seconds at the schedule's zero (time.process_time()): its busy share
    is the load's, not that of starting its users during the lead (seconds of CPU for a few
    thousand), which calibrate would otherwise count as the generator's cost per request."""
    zero_at: float | None = None
    """Wall-clock time the zero's timer fired (a busy loop may fire it late)."""
    cpu_to: float | None = None
    """Its CPU seconds when the load stopped (:meth:`load_stopped`), before the write-up."""
    stopped_at: float | None = None
    """Wall-clock time the load stopped."""
    _zero_timer: gevent.Greenlet | None = field(default=None, repr=False)
    _taken: Event = field(default_factory=Event, repr=False)
    """Set when this process takes a share of the schedule: a user that finds no visit waits
    on it instead of polling. A share, once taken, only empties, so at the schedule's end
    every user of the pool would otherwise wake a few times a second for nothing: 6,600
    users five times a second took the generator from 73% of its core to 90% in a drill's
    last ten seconds at 90% of the reference service's ceiling, and that window's p95 from
    ~10 ms to 117."""
    _windows: gevent.Greenlet | None = field(default=None, repr=False)
    _window: tuple[int, float, float] | None = field(default=None, repr=False)
    """The fidelity window being measured: its index, and the CPU seconds and wall-clock time
    its measure started from."""

    users_frozen: int | None = None
    """Objects this process froze out of its collector once its users were up (drill.py)."""

    def take(self, worker: int, workers: int, t0: float) -> None:
        self.visits = deque(self.plan.share(worker, workers))
        taken, self._taken = self._taken, Event()
        taken.set()  # the users waiting for a share find this one
        self.t0 = t0
        self.run = format(int(t0 * 1000), "x")
        self.cpu_from = self.zero_at = self.cpu_to = self.stopped_at = None
        if self._zero_timer is not None:  # taken again (plain Locust restarts): the new zero
            self._zero_timer.kill()
        if self._windows is not None:
            self._windows.kill()
        self._window = None
        self._zero_timer = gevent.spawn_later(max(0.0, t0 - time.time()), self._at_zero)

    def wait_for_visits(self) -> None:
        """Park the calling user until this process takes a (new) share of the schedule."""
        self._taken.wait()

    def _at_zero(self) -> None:
        early = (self.t0 or 0.0) - time.time()
        if early > 0:  # the loop's clock was stale when the timer was set (after a long
            # computation, as building the plan): it fired early; wait for the zero itself
            self._zero_timer = gevent.spawn_later(early, self._at_zero)
            return
        self.cpu_from, self.zero_at = time.process_time(), time.time()
        self._window = (0, self.cpu_from, self.zero_at)
        self._windows = gevent.spawn(self._measure_windows)

    def _measure_windows(self) -> None:
        """This process's busy share in every fidelity window, each closed at its end: a
        busy share over the whole drill hides the seconds the generator spent at its core's
        limit, which are the ones whose latencies carry its own lateness. A timer that fires
        late (the loop was busy) closes a longer window: the share is over the time it
        actually measured."""
        while self._window is not None:
            index = self._window[0]
            gevent.sleep(max(0.0, (self.t0 or 0.0) + (index + 1) * DRILL_WINDOW - time.time()))
            self._close_window(index + 1)

    def _close_window(self, following: int | None) -> None:
        if self._window is None:
            return
        index, cpu, at = self._window
        cpu_now, now = time.process_time(), time.time()
        if now - at >= 1.0:  # a last window cut shorter than a second says little
            self.recorder.generator_busy[index] = round((cpu_now - cpu) / (now - at), 3)
        self._window = None if following is None else (following, cpu_now, now)

    def load_stopped(self) -> None:
        """The load has stopped: the CPU this process spends from now on is not the load's."""
        self.cpu_to, self.stopped_at = time.process_time(), time.time()
        if self._windows is not None:
            self._windows.kill()
        self._close_window(None)

    def busy(self, until: float) -> float | None:
        """The share of a core this process spent on the load from the schedule's zero to
        ``until`` (wall-clock; at most when the load stopped): how near it came to limiting
        the load it generated (GENERATOR_LIMIT), and calibrate's measure of its cost per
        request. None before the zero's timer fired (a process whose loop never turned)."""
        if self.cpu_from is None or self.zero_at is None:
            return None
        if self.stopped_at is not None:
            until = min(until, self.stopped_at)
        if until <= self.zero_at:
            return None
        spent = (time.process_time() if self.cpu_to is None else self.cpu_to) - self.cpu_from
        return round(spent / (until - self.zero_at), 3)

    def refusal(self, host: str | None) -> UnsafeTarget | None:
        """Why this process must not load ``host`` (None when it may): checked by every
        runner (local, master, worker, plain Locust) before it takes its share."""
        try:
            check_target(host or "", self.allowed)
        except UnsafeTarget as exc:
            return exc
        return None

    def phase_at(self, real: float) -> str | None:
        t = self.plan.clock_of(real)
        for name, window in self._phases:
            if Clock.inside(t, window):
                return name
        return None


_ATTRIBUTE = "peakday_drill"


def attach(environment: Environment, state: DrillState) -> None:
    """Make ``state`` the drill of the users ``environment`` runs: before they start."""
    setattr(environment, _ATTRIBUTE, state)


def state_of(environment: Environment) -> DrillState | None:
    """The drill attached to ``environment`` (None: no drill, the users stay idle)."""
    return getattr(environment, _ATTRIBUTE, None)


class Shopper(FastHttpUser):
    """One slot of the user pool; it runs visits, one after another, at their times."""

    network_timeout = 30.0
    connection_timeout = 10.0
    max_redirects = 0
    """The HTTP client never follows a redirect: a 3xx is the request's answer, and the hops
    a scenario asks to follow are sent by :class:`Journey`, each after its host is checked."""
    admitted = False
    state: DrillState | None = None

    def on_start(self) -> None:
        self.state = state_of(self.environment)
        # Checked again here, whatever the runner did: a user never sends to another host.
        self.admitted = self.state is not None and self.state.refusal(self.host) is None

    @task
    def next_visit(self) -> None:
        state = self.state
        if state is None or not self.admitted:
            gevent.sleep(IDLE_POLL)
            return
        if state.t0 is None or not state.visits:
            state.wait_for_visits()
            return
        visit = state.visits.popleft()
        due = state.t0 + visit.start
        wait = due - time.time()
        if wait > 0:
            gevent.sleep(wait)
        state.in_flight += 1
        try:
            state.recorder.session_started(visit.start, time.time() - state.t0)
            Journey(self, state, visit, due).walk()
        finally:
            state.in_flight -= 1


class Journey:
    """One visit's steps, with the scenario's retry rules, over this user's HTTP client."""

    def __init__(self, user: Shopper, state: DrillState, visit: Visit, due: float):
        self.user, self.state, self.visit = user, state, visit
        self.intended = due
        self.cart_id: str | None = None
        self.order_id: str | None = None
        self.channel = 0
        scenario = state.scenario
        self.compress = scenario.drill.compress
        sale = (scenario.promotions.flash_sales[visit.sale]
                if visit.sale is not None and scenario.promotions else None)
        self.retry = platform_retry(scenario, sale, visit.bot)

    def walk(self) -> None:
        for i, step in enumerate(self.visit.steps):
            if i:
                self._sleep_until(self.intended + self.visit.thinks[i - 1])
            if not self._step(step):
                return

    def _sleep_until(self, moment: float) -> None:
        self.intended = moment
        wait = moment - time.time()
        if wait > 0:
            gevent.sleep(wait)

    def _step(self, step: str) -> bool:
        """True to go on to the next step."""
        if step == "pay":
            return self._pay()
        outcome, body = self._attempts(step)
        if outcome != "ok":
            if outcome in ("sold_out", "limit_exceeded") and self.visit.sale is not None:
                self._ticket("flash_sale_miss",
                             self.state.scenario.support.contacts.per_flash_sale_miss
                             if self.state.scenario.support else 0.0)
            return False
        if step == "cart":
            self.cart_id = body.get("cart_id")
        elif step == "checkout":
            self.order_id = body.get("order_id")
        return True

    def _attempts(self, step: str, key: str | None = None) -> tuple[str, dict]:
        """Send a step, retrying platform errors; business answers are final."""
        attempt = 1
        while True:
            outcome, body = self._send(step, key)
            if outcome != "error" or not self.retry.retries(attempt):
                return outcome, body
            attempt += 1
            self._sleep_until(time.time() + self.retry.backoff / self.compress)

    def _pay(self) -> bool:
        retry = payment_retry(self.state.scenario)
        channels = len(self.visit.channels)
        declines_here = 0
        attempt = 1
        while True:
            key = f"{self.state.run}-{self.visit.shopper}-{self.visit.index}-{attempt}"
            outcome, _ = self._attempts("pay", key)
            if outcome == "ok":
                self.state.recorder.paid += 1
                return True
            if outcome != "declined" or not retry.retries(attempt):
                break
            declines_here += 1
            if retry.switches(declines_here, channels):
                self.channel = next_channel(self.channel, channels)
                declines_here = 0
            self._sleep_until(time.time() + retry.backoff / self.compress)
            attempt += 1
        support = self.state.scenario.support
        self._ticket("payment_failure", support.contacts.per_payment_failure if support else 0)
        return False

    def _ticket(self, topic: str, probability: float) -> None:
        """Some unhappy shoppers write to support (decided by a hash: same visit, same choice)."""
        if probability <= 0 or "support" not in self.state.scenario.drill.endpoints:
            return
        if zlib.crc32(f"{self.visit.index}/{topic}".encode()) % 10_000 / 10_000 >= probability:
            return
        self.intended = time.time()
        outcome, _ = self._send("support", None)
        if outcome == "ok":
            self.state.recorder.tickets += 1

    def _send(self, step: str, key: str | None) -> tuple[str, dict]:
        state, visit = self.state, self.visit
        method, template = state.routes[step]
        path = template.format(sku=visit.sku or "", order_id=self.order_id or "")
        sent = time.time()
        outcome, payload, provider = self._exchange(step, method, path, *self._content(step, key))
        done = time.time()
        t0 = state.t0 or sent
        due = self.intended - t0
        # The platform's latency, as the simulator counts it: the payment provider's own
        # time (announced by the target in Server-Timing) is not the checkout's.
        state.recorder.request(step, state.phase_at(due), self.intended, sent, done - provider,
                               outcome, due)
        if outcome == "sold_out" and visit.sku is not None:
            state.recorder.saw_sold_out(visit.sku, done - t0)
        self.intended = done
        return outcome, payload

    def _content(self, step: str, key: str | None) -> tuple[dict | None, dict[str, str]]:
        """The step's JSON body and headers."""
        visit = self.visit
        headers = {"X-Shopper-Id": f"{self.state.run}-{visit.shopper}"}
        body: dict[str, object] | None = None
        if step == "cart":
            body = {"sku": visit.sku, "qty": 1}
        elif step == "checkout":
            body = ({"cart_id": self.cart_id} if self.cart_id
                    else {"items": [{"sku": visit.sku, "qty": 1}]})
        elif step == "pay":
            body = {"channel": visit.channels[self.channel] if visit.channels else "default"}
            headers["Idempotency-Key"] = key or ""
        elif step == "support":
            body = {"topic": "order"}
        return body, headers

    def _exchange(self, step: str, method: str, url: str, body: dict | None,
                  headers: dict[str, str]) -> tuple[str, dict, float]:
        """Send a step's request: its outcome, JSON answer and the provider's seconds.

        A 3xx is the answer (the HTTP client never follows one, see :class:`Shopper`), unless
        ``drill.follow_redirects`` is on: then each hop is sent here, only after its host
        has passed the allow-list; a hop off the list ends the request unsent.
        """
        state = self.state
        current = urljoin(self.user.host or "", url)
        hop = 0
        while True:
            with self.user.client.request(method, url, json=body, headers=headers, name=step,
                                          catch_response=True) as reply:
                status = reply.status_code or 0
                location = reply.headers.get("Location") if status in REDIRECTS else None
                if location is None:
                    return _answer(step, reply)
                target = urljoin(current, location)
                refused = _refused_hop(status, target, state, hop)
                if refused:
                    outcome, reason = refused
                    state.recorder.redirected(target)
                    reply.failure(reason)
                    return outcome, {}, 0.0
                reply.success()
            url = current = target
            hop += 1
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None  # as browsers do (RFC 9110 15.4)


def _refused_hop(status: int, target: str, state: DrillState, hop: int
                 ) -> tuple[str, str] | None:
    """(outcome, reason) when a redirect ends the request here; None to follow it."""
    if not state.scenario.drill.follow_redirects:
        return "redirect", (f"HTTP {status} to {target} (not followed: drill.follow_redirects "
                            "is off)")
    if not state.allowed.admits(target):
        return "redirect_refused", (f"HTTP {status} to {target}: host not in "
                                    f"drill.allowed_hosts ({state.allowed.listed()}); not sent")
    if hop == MAX_HOPS:
        return "redirect", f"HTTP {status} to {target}: more than {MAX_HOPS} redirects"
    return None


def _answer(step: str, reply) -> tuple[str, dict, float]:
    """A final answer's outcome, JSON body (cart and checkout) and provider seconds (pay)."""
    status = reply.status_code or 0
    # A request that got no answer has no headers to read (FastHttpUser leaves them None).
    provider = _provider_seconds(reply.headers.get("Server-Timing", "")) \
        if step == "pay" and status else 0.0
    payload: dict = {}
    if status == 0:
        outcome = "error"
        reply.failure(f"no response ({reply.error!r})" if reply.error else "no response")
    elif status < 400:
        outcome = "ok"
        try:
            payload = reply.json() if step in ("cart", "checkout") else {}
        except (ValueError, TypeError):
            payload = {}
        reply.success()
    elif status == 409:
        outcome = _conflict(reply)
        reply.success()
    elif status == 402:
        outcome = "declined"
        reply.success()
    else:
        outcome = "error"
        reply.failure(f"HTTP {status}")
    return outcome, payload, provider


def _conflict(reply) -> str:
    try:
        error = reply.json().get("error", "")
    except (ValueError, AttributeError):
        error = ""
    return error if error in ("sold_out", "limit_exceeded") else "expired"


def _provider_seconds(header: str) -> float:
    """``gateway;dur=812.5`` in a Server-Timing header -> 0.8125 (0 when absent)."""
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        if name == "gateway":
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "dur":
                    try:
                        return float(value) / 1000
                    except ValueError:
                        return 0.0
    return 0.0
