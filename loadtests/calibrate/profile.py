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
SEGMENT = {"calibration": {"share": 1, "product_views": "geometric(mean=1)",
                           "funnel": {"cart": 1, "checkout": 1, "pay": 1}}}
"""One shopper walks every step of the journey: about 5 requests per session, every endpoint
(but support) about equally often."""


@dataclass(frozen=True)
class Profile:
    """How the steps are sized."""

    first_rate: float = 10.0
    """Requests per second of the first (lightest) step."""
    step_s: float = 20.0
    """Real seconds per step: long enough for a stable p95 at the lightest rate."""
    max_steps: int = 8


@dataclass(frozen=True)
class Step:
    index: int
    sessions_per_s: float
    """Offered session rate (real time)."""


def requests_per_session(scenario: Scenario) -> float:
    """Requests a calibration session sends: home, its product views, cart, checkout, pay."""
    views = 1.0 if scenario.catalog else 0.0
    steps = ("cart", "checkout", "pay") if scenario.catalog else ()
    return 1.0 + views + sum(1 for s in steps if s in scenario.drill.endpoints)


def step_overrides(scenario: Scenario, step: Step, step_s: float) -> list[str]:
    """``--set`` overrides that turn the scenario into one steady step of the profile."""
    start = scenario.clock.start_time_of_day
    segments = SEGMENT if scenario.catalog else {
        "calibration": {"share": 1, "product_views": "constant(0)",
                        "funnel": {"cart": 0, "checkout": 0, "pay": 0}}}
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
