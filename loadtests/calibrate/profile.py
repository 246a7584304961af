"""The calibration profile: open-model steps of load, light to past saturation.

Each step is an ordinary drill of the scenario (real Locust, the drill's allow-list, caps and
abort rule) made steady by ``--set`` overrides: a constant session rate over a window of
``step_s`` seconds replayed in real time, no flash sales, outages or phases, every shopper
walking home -> product -> cart -> checkout -> pay with no think time (so every endpoint gets
its share of requests at every step), and no graceful stop (requests still waiting when the
step ends are not counted: past saturation, what completed in the step is the throughput).

Steps run one at a time, each against an idle target, and the next rate is chosen from what
the last one showed: doubling while latency stays near the light-load figure, then growing by
40%, until a step saturates (completes under 90% of what it offered); one step at twice
that rate then measures the ceiling. The profile's step budget and the drill's caps bound it.

Then, with ``--probes``, the **mix probes**: one step per other mix of endpoints
(:data:`MIXES`: the journey without pay, without checkout, home and product only, browsing),
each offered as many requests per second as the ceiling step. Every journey step has the same
mix, so the ramp alone cannot tell what each endpoint costs the target; saturated steps of
different mixes can: each keeps the target's workers busy, so per-endpoint throughputs x
demands sum to the workers in each (the utilization law), five mixes for five endpoints
(fit.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sim.scenario.schema import Scenario
from sim.scenario.units import DAY, format_clock

SATURATED = 0.90
"""A step that completes less than this share of the requests it offered is saturated."""
CLIMBING = 3.0
"""p95 over this multiple of the lightest step's: latency is climbing, grow gently (a loaded
machine's p95 wanders by half between light steps: a lower bar stops the climb too early)."""
FAST, GENTLE = 2.0, 1.4
"""Rate multipliers from one step to the next, far from and near saturation."""
PROBE = 2.0
"""After the first saturated step, one more at this multiple: deep past saturation the
target is busy from the step's first second, so its throughput there is its ceiling (just
past it, sessions that walk their steps one by one may not keep every worker busy)."""
JOURNEY = "journey"
MIXES: dict[str, tuple[int, tuple[int, int, int]]] = {
    JOURNEY: (1, (1, 1, 1)),
    "order": (1, (1, 1, 0)),
    "basket": (1, (1, 0, 0)),
    "view": (1, (0, 0, 0)),
    "browse": (3, (0, 0, 0)),
}
"""Mix -> (mean product views, a geometric count; funnel cart/checkout/pay). The journey
(every step of the ramp): one shopper walks every step, about 5 requests per session, every
endpoint (but support) about equally often. The others are the probes: per session (home,
product, cart, checkout, pay) about (1,1,1,1,0), (1,1,1,0,0), (1,1,0,0,0), (1,3,0,0,0) —
with the journey's (1,1,1,1,1) five independent mixes."""


@dataclass(frozen=True)
class Profile:
    """How the steps are sized."""

    first_rate: float = 10.0
    """Requests per second of the first (lightest) step."""
    step_s: float = 20.0
    """Real seconds per step: long enough for a stable p95 at the lightest rate."""
    max_steps: int = 8
    probes: bool = False
    """After the ramp, the mix probes (one saturated step per other mix). Off by default:
    on this machine their ceilings are the load generator's as much as the target's (two
    calibrations' probes differed by 15-45%), and the drill's sessions, thinking between
    requests, cost the machine more per request than any probe's (see README)."""


@dataclass(frozen=True)
class Step:
    index: int
    sessions_per_s: float
    """Offered session rate (real time)."""
    mix: str = JOURNEY
    """Which of :data:`MIXES` its sessions walk."""


def probe_mixes(scenario: Scenario) -> list[str]:
    """The probes' mixes: none without a catalog (every session is home alone)."""
    return [m for m in MIXES if m != JOURNEY] if scenario.catalog else []


def requests_per_session(scenario: Scenario, mix: str = JOURNEY) -> float:
    """Requests a calibration session of ``mix`` sends: home, its product views, then the
    funnel's steps (those the drill has a route for)."""
    if not scenario.catalog:
        return 1.0
    views, funnel = MIXES[mix]
    steps = [s for s, on in zip(("cart", "checkout", "pay"), funnel, strict=True) if on]
    return 1.0 + views + sum(1 for s in steps if s in scenario.drill.endpoints)


def step_overrides(scenario: Scenario, step: Step, step_s: float) -> list[str]:
    """``--set`` overrides that turn the scenario into one steady step of the profile."""
    start = scenario.clock.start_time_of_day
    views, (cart, checkout, pay) = MIXES[step.mix] if scenario.catalog else (0, (0, 0, 0))
    segments = {"calibration": {"share": 1, "product_views": f"geometric(mean={views})",
                                "funnel": {"cart": cart, "checkout": checkout, "pay": pay}}}
    window = [format_clock(start), format_clock((start + step_s) % DAY)]
    overrides = [
        f"traffic.sessions_per_min={json.dumps({format_clock(start): step.sessions_per_s * 60})}",
        "traffic.phases={}",
        f"customers.segments={json.dumps(segments)}",
        "customers.think_time=constant(0s)",
        f"drill.window={json.dumps(window)}",
        "drill.compress=1",
        "drill.scale=1",
        "drill.graceful_stop=0s",
    ]
    if scenario.promotions is not None:
        overrides.append("promotions=null")
    if scenario.payments is not None:
        overrides.append("payments.outages=[]")
    return overrides


def next_rate(rate: float, p95_ms: float | None, lightest_p95_ms: float | None) -> float:
    """The next step's session rate: double far from saturation, +25% once latency climbs."""
    if p95_ms is None or lightest_p95_ms is None or p95_ms > CLIMBING * lightest_p95_ms:
        return rate * GENTLE
    return rate * FAST
