"""The calibration profile: open-model steps of load, light to past saturation, shaped as the
drill's load is.

Each step is an ordinary drill of the scenario (real Locust, the drill's allow-list, caps and
abort rule) made steady by ``--set`` overrides: a constant session rate, no flash sales,
outages or phases, and no graceful stop. Its sessions are the drill's own: the scenario's
segments and journeys, its think times over ``drill.compress`` — so the target meets what a
drill sends it (hundreds of open connections, each session thinking between requests; on the
reference service a drill's request cost the machine about twice what a zero-think journey's
did at the same rate, and a model fitted from zero-think steps foresaw a half-busy target
where the drill found it queueing). A step is a ``warm`` phase (sessions ramping up to their
steady overlap, not measured) then a ``steady`` one of ``step_s`` real seconds, whose
requests (by intended start) are the step's figures.

Steps run one at a time, each against an idle target, and the next rate is chosen from what
the last one showed: doubling while latency stays near the light-load figure, then growing by
40%, until a step saturates (completes under 90% of the requests its sessions meant to send
in the steady phase). The profile's step budget and the drill's caps bound it.

Then, with ``--probes``, the **mix probes**: one step per other mix of endpoints
(:data:`MIXES`: home to checkout, home to cart, home and product only, browsing; the same
think times), each offered as many requests per second as the saturated step. Every journey
step has the same mix, so the ramp alone cannot tell what each endpoint costs the target;
saturated steps of different mixes can: each keeps the target's workers busy, so
per-endpoint throughputs x demands sum to the workers in each (the utilization law, fit.py).

Last, two steps of the journeys at 40% of the ceiling, for the service's spread (spread.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from sim.behaviour.journeys import JourneyPlanner
from sim.scenario.schema import Scenario
from sim.scenario.units import DAY, format_clock

SATURATED = 0.90
"""A step that completes less than this share of the requests it offered is saturated."""
CLIMBING = 3.0
"""p95 over this multiple of the lightest step's: latency is climbing, grow gently (a loaded
machine's p95 wanders by half between light steps: a lower bar stops the climb too early)."""
FAST, GENTLE = 2.0, 1.4
"""Rate multipliers from one step to the next, far from and near saturation."""
WARM_QUANTILE = 0.8
"""The warm phase lasts this quantile of a session's length (its think times): by then most
sessions that will overlap the steady phase's first second are under way."""
SAMPLE = 4096
"""Sessions planned (seed 0) to measure a mix's requests per session and session length."""
JOURNEY = "journey"
"""The ramp's mix: the scenario's own segments and journeys, as the drill walks them."""
MIXES: dict[str, tuple[int, tuple[int, int, int]]] = {
    "order": (1, (1, 1, 0)),
    "basket": (1, (1, 0, 0)),
    "view": (1, (0, 0, 0)),
    "browse": (3, (0, 0, 0)),
}
"""Probe mix -> (mean product views, a geometric count; funnel cart/checkout/pay). Per
session (home, product, cart, checkout, pay) about (1,1,1,1,0), (1,1,1,0,0), (1,1,0,0,0),
(1,3,0,0,0): with the journey's own mix, five independent mixes."""


@dataclass(frozen=True)
class Profile:
    """How the steps are sized."""

    first_rate: float = 10.0
    """Requests per second of the first (lightest) step."""
    step_s: float = 20.0
    """Real seconds of each step's steady phase: long enough for a stable p95 at the lightest
    rate."""
    max_steps: int = 8
    probes: bool = False
    """After the ramp, the mix probes (one saturated step per other mix). Off by default:
    on this machine their ceilings were the load generator's as much as the target's (two
    calibrations' probes differed by 15-45%; see README)."""


@dataclass(frozen=True)
class Step:
    index: int
    sessions_per_s: float
    """Offered session rate (real time)."""
    mix: str = JOURNEY
    """The scenario's journeys, or which of :data:`MIXES` its sessions walk."""


@dataclass(frozen=True)
class Shape:
    """What a session of the drill looks like, from a sample of planned sessions."""

    requests: float
    """Mean requests per session (the journey's mix)."""
    warm_s: float
    """Real seconds of a step's warm phase (WARM_QUANTILE of the sessions' think times)."""


def shape(scenario: Scenario) -> Shape:
    """The drill's sessions as the shared planner and the scenario's think time make them."""
    rng = np.random.default_rng(0)
    planner = JourneyPlanner(scenario, rng)
    lengths = np.array([len(planner.plan()[0]) for _ in range(SAMPLE)])
    thinks = scenario.customers.think_time.sample(rng, int(lengths.sum()))
    # Each session's thinks: one per request after its first (the sample's last think of a
    # session is dropped by taking cumulative sums at the session boundaries).
    ends = np.cumsum(lengths)
    totals = np.diff(np.concatenate([[0.0], np.cumsum(thinks)[ends - 1]])) - thinks[ends - 1]
    warm = float(np.quantile(totals, WARM_QUANTILE)) / scenario.drill.compress
    return Shape(float(lengths.mean()), warm)


def probe_mixes(scenario: Scenario) -> list[str]:
    """The probes' mixes: none without a catalog (every session is home alone)."""
    return list(MIXES) if scenario.catalog else []


def requests_per_session(scenario: Scenario, mix: str = JOURNEY) -> float:
    """Requests a calibration session of ``mix`` sends: the journey's mean, or a probe's
    home, product views, then the funnel's steps (those the drill has a route for)."""
    if mix == JOURNEY:
        return shape(scenario).requests
    views, funnel = MIXES[mix]
    steps = [s for s, on in zip(("cart", "checkout", "pay"), funnel, strict=True) if on]
    return 1.0 + views + sum(1 for s in steps if s in scenario.drill.endpoints)


def step_overrides(scenario: Scenario, step: Step, step_s: float, warm_s: float
                   ) -> list[str]:
    """``--set`` overrides that turn the scenario into one steady step of the profile: its
    window is ``warm_s`` then ``step_s`` real seconds, phases ``warm`` and ``steady``."""
    start = scenario.clock.start_time_of_day
    compress = scenario.drill.compress
    steady = start + round(warm_s * compress)
    end = steady + max(1, round(step_s * compress))
    clock = [format_clock(t % DAY) for t in (start, steady, end)]
    overrides = [
        "traffic.sessions_per_min="
        + json.dumps({clock[0]: step.sessions_per_s * 60 / compress}),
        "traffic.phases=" + json.dumps({"warm": clock[:2], "steady": clock[1:]}),
        f"drill.window={json.dumps([clock[0], clock[2]])}",
        "drill.scale=1",
        "drill.graceful_stop=0s",
    ]
    if step.mix != JOURNEY:
        views, (cart, checkout, pay) = MIXES[step.mix]
        segments = {"calibration": {"share": 1, "product_views": f"geometric(mean={views})",
                                    "funnel": {"cart": cart, "checkout": checkout, "pay": pay}}}
        overrides.append(f"customers.segments={json.dumps(segments)}")
    if scenario.promotions is not None:
        overrides.append("promotions=null")
    if scenario.payments is not None:
        overrides.append("payments.outages=[]")
    return overrides


def next_rate(rate: float, p95_ms: float | None, lightest_p95_ms: float | None) -> float:
    """The next step's session rate: double far from saturation, +40% once latency climbs."""
    if p95_ms is None or lightest_p95_ms is None or p95_ms > CLIMBING * lightest_p95_ms:
        return rate * GENTLE
    return rate * FAST


def between_rate(below: float, ceiling: float) -> float | None:
    """A session rate between the last step under the ceiling (``below``) and the first at it
    when the ramp doubled from one to the other (None: it grew gently, or less).

    Doubling straight past the ceiling sees it from afar, and the step past it may be the
    load generator's limit rather than the target's: calibration run 20 doubled from 2,493
    requests/s to a step the generator could not send (95% of its core), and took 2,846 for
    the ceiling where run 19, growing 40% there, measured 3,444. One step +40% from below
    measures the most the target completes closer."""
    nearer = below * GENTLE
    return nearer if nearer < ceiling / GENTLE ** 0.5 else None
