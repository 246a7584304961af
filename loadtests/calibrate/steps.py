"""Running the calibration profile: one real drill per step, the target's CPU read around it.

Every step is the drill's own Locust process (``python -m loadtests.drill``) on the scenario
with the step's overrides, so the allow-list (checked once, before the first step), the abort
rule, and the caps hold as in any drill; the caps are also held across the whole profile. A
step whose error rate passes ``drill.abort.error_rate`` ends the calibration: a target that
fails cannot be measured. A step's figures are its steady phase's (profile.py): requests by
intended start, completed within the step.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.scenario import load_scenario
from sim.scenario.schema import GENERATOR_LIMIT, Scenario

from .. import probe
from ..config import DrillConfig
from ..drill_launch import locust_process
from ..schedule import build_plan
from ..stops import Stop
from ..target.launch import free_port
from .profile import (
    JOURNEY,
    SATURATED,
    Profile,
    Step,
    between_rate,
    next_rate,
    probe_mixes,
    requests_per_session,
    shape,
    step_overrides,
)

SPREAD_STEPS = 2
"""Steps at SPREAD_LOAD of the ceiling after the ramp, for the service's spread."""
SPREAD_LOAD = 0.4
"""Off the loads a drill is usually judged at (half and 90% of the ceiling), so that such a
drill checks the prediction at a load the calibration did not use."""
STEADY = "steady"
"""The phase of a step whose requests are its figures (the warm phase before it is not)."""


class CalibrationError(Exception):
    """A calibration that cannot go on (the message says why, in one line)."""


@dataclass
class StepResult:
    """What one step of the profile measured."""

    index: int
    sessions_per_s: float
    duration_s: float
    """The steady phase's planned length (real seconds)."""
    ran_s: float
    """The whole step's (warm phase included)."""
    offered: int
    """Requests the step's sessions meant to send in the steady phase (the schedule's
    intended starts, responses taken as instant)."""
    requests: int
    """Requests of the steady phase completed (answered) within the step."""
    errors: int
    """Errors over the whole step."""
    endpoints: dict[str, dict]
    """Per endpoint, in the steady phase: requests, mean/p50/p95/p99 ms (from the intended
    start)."""
    cpu_s: float | None
    """Target CPU seconds the whole step cost (idle CPU subtracted), when its /metrics says."""
    stopped_because: str
    start_lag_ms: float = 0.0
    """Mean lateness of the sessions' starts (the load generator's, not the target's): part
    of every session's first request as measured from its intended start."""
    mix: str = JOURNEY
    """The endpoints its sessions walk: the scenario's journeys, or a probe's (MIXES)."""
    completed: int = 0
    """Requests completed over the whole step (warm phase included): what ``cpu_s`` paid
    for (0 in folders from before the warm phase: then ``requests``)."""
    server_ms: dict[str, float] = field(default_factory=dict)
    """Per endpoint, the mean time its requests spent inside the target over the whole step,
    from the target's per-route histogram ({}: not exposed)."""
    generator_busy: float | None = None
    """The load generator's share of a core over the step (drill.json): at GENERATOR_LIMIT
    or more the step measured the generator as well as the target."""
    saturated: bool = field(init=False)
    throughput: float = field(init=False)
    """Requests per second completed in the steady phase."""
    generator_bound: bool = field(init=False)
    at_ceiling: bool = field(init=False)
    """Saturated, or its load generator at its limit: the most this ramp can measure."""

    def __post_init__(self) -> None:
        self.saturated = self.requests < SATURATED * self.offered
        self.throughput = self.requests / self.duration_s
        self.generator_bound = (self.generator_busy or 0.0) >= GENERATOR_LIMIT
        self.at_ceiling = self.saturated or self.generator_bound

    def as_dict(self) -> dict:
        return asdict(self)


def run_profile(scenario: Scenario, file: Path, overrides: list[str], overlays: list[Path],
                target: str, allow_hosts: list[str], profile: Profile, seed: int | None,
                report: Callable[[StepResult], None] = lambda _: None,
                cores: list[int] | None = None) -> list[StepResult]:
    """Run steps, light to past saturation, then the probes (when asked) and the spread
    steps at SPREAD_LOAD of the ceiling; ``report`` hears of each step as it ends; each
    step's load generator runs on ``cores`` (None: the scheduler's choice)."""
    drill = scenario.drill
    idle = probe.idle_rate(target)
    sessions = shape(scenario)
    rate = profile.first_rate / sessions.requests
    results: list[StepResult] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="peakday-calibrate-") as scratch:

        def run(step: Step) -> StepResult | None:
            """Run ``step`` unless it would pass the drill's caps (None)."""
            sent = sum(r.completed or r.requests for r in results)
            offered = step.sessions_per_s * requests_per_session(scenario, step.mix)
            length = sessions.warm_s + profile.step_s
            if (time.monotonic() - started + length > drill.max_duration
                    or sent + offered * length > drill.max_requests):
                return None
            config = DrillConfig(str(file), [*overrides, *step_overrides(
                                     scenario, step, profile.step_s, sessions.warm_s)],
                                 target, str(Path(scratch) / f"step-{step.index}"), seed,
                                 master_port=free_port(), overlays=[str(o) for o in overlays],
                                 allow_hosts=allow_hosts, cores=cores or [])
            probe.settle(target, idle)
            result = _run_step(scenario, step, config, idle)
            results.append(result)
            report(result)
            return result

        # Up to the first saturated step: past it, the load generator's own work grows with
        # every session it cannot finish, and on a shared machine takes the target's CPU.
        # A step whose generator was busy to its limit ends the ramp too: a harder one would
        # measure the generator.
        for index in range(1, profile.max_steps + 1):
            result = run(Step(index, rate))
            if result is None or result.at_ceiling:
                break
            rate = next_rate(rate, _p95(result), _p95(results[0]))
        last = results[-1] if results else None
        nearer = (between_rate(results[-2].sessions_per_s, last.sessions_per_s)
                  if last is not None and last.at_ceiling and len(results) > 1 else None)
        if nearer is not None and len(results) < profile.max_steps:
            run(Step(len(results) + 1, nearer))
        if profile.probes and last is not None and last.saturated:
            ceiling = last.sessions_per_s * sessions.requests
            for mix in probe_mixes(scenario):
                if run(Step(len(results) + 1,
                            ceiling / requests_per_session(scenario, mix), mix)) is None:
                    break
        if last is not None and last.at_ceiling:
            # The spread steps (spread.py): at SPREAD_LOAD of the ceiling, where one step's p95 on a
            # shared machine can be three times another's; the fit takes their median.
            moderate = SPREAD_LOAD * max(r.throughput for r in results) / sessions.requests
            for _ in range(SPREAD_STEPS):
                if run(Step(len(results) + 1, moderate)) is None:
                    break
    return results


def _p95(result: StepResult) -> float | None:
    """The step's request-weighted p95 over endpoints (a summary for choosing the next rate)."""
    figures = [(e["requests"], e["p95_ms"]) for e in result.endpoints.values() if e["p95_ms"]]
    total = sum(n for n, _ in figures)
    return sum(n * p for n, p in figures) / total if total else None


def _offered(config: DrillConfig) -> tuple[int, float]:
    """Requests the step's sessions mean to send in its steady phase (each visit's steps at
    their intended starts, responses taken as instant, retries not counted), and the phase's
    real seconds."""
    scenario = load_scenario(config.scenario, config.overrides, config.overlays)
    plan = build_plan(scenario, config.seed)
    begin, end = ((t - plan.window[0]) / plan.compress
                  for t in scenario.clock.window(*scenario.traffic.phases[STEADY]))
    intended = [v.start + np.concatenate([[0.0], np.cumsum(v.thinks)]) for v in plan.visits]
    return (sum(int(np.count_nonzero((at >= begin) & (at < end))) for at in intended),
            end - begin)


def _server_ms(scenario: Scenario, before: dict[str, tuple[float, int]],
               after: dict[str, tuple[float, int]]) -> dict[str, float]:
    """Per endpoint (by its drill route's path), the mean ms inside the target between two
    readings of its per-route histogram."""
    means: dict[str, float] = {}
    for endpoint, route in scenario.drill.endpoints.items():
        path = route.split(" ", 1)[-1]
        (s0, n0), (s1, n1) = before.get(path, (0.0, 0)), after.get(path, (0.0, 0))
        if path in after and n1 > n0:
            means[endpoint] = round((s1 - s0) / (n1 - n0) * 1000, 4)
    return means


def _run_step(scenario: Scenario, step: Step, config: DrillConfig, idle: float | None
              ) -> StepResult:
    target, out = config.target, Path(config.out)
    before, since = probe.metrics(target), time.monotonic()
    status = locust_process("local", config)
    after, elapsed = probe.metrics(target), time.monotonic() - since
    if status != 0 or not (out / "drill.json").is_file():
        raise CalibrationError(f"step {step.index}: the drill's Locust process failed "
                               f"(exit {status})")
    measured = json.loads((out / "drill.json").read_text())
    cpu = probe.cpu_between(before, after, idle, elapsed)
    steady = measured["phases"].get(STEADY, {})
    offered, seconds = _offered(config)
    endpoints = {name: {"requests": e["count"],
                        **{key: e[key] for key in ("mean_ms", "p50_ms", "p95_ms", "p99_ms")}}
                 for name, e in steady.items()}
    result = StepResult(
        index=step.index, sessions_per_s=step.sessions_per_s,
        duration_s=seconds, ran_s=measured["ran_s"], offered=offered,
        requests=sum(e["requests"] for e in endpoints.values()),
        errors=measured["errors"], endpoints=endpoints, cpu_s=cpu,
        stopped_because=measured["stopped_because"],
        start_lag_ms=measured["start_lag_ms"].get("mean") or 0.0, mix=step.mix,
        generator_busy=(measured.get("load_generator") or {}).get("busy"),
        completed=measured["requests"],
        server_ms=_server_ms(scenario, probe.route_seconds(before),
                             probe.route_seconds(after)))
    limit = scenario.drill.abort.error_rate
    rate = measured["errors"] / measured["requests"] if measured["requests"] else 1.0
    if rate > limit or measured["stop"] in (Stop.ERROR_RATE_ABORT, Stop.WORKER_REFUSED):
        raise CalibrationError(
            f"step {step.index} "
            f"({result.sessions_per_s * requests_per_session(scenario, step.mix):.0f} "
            f"requests/s): error rate {rate:.0%} (limit {limit:.0%}, drill.abort) — the target "
            "fails under load it should carry; nothing was calibrated")
    return result
