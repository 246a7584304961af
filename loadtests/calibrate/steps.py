"""Running the calibration profile: one real drill per step, the target's CPU read around it.

Every step is the drill's own Locust process (``python -m loadtests.drill``) on the scenario
with the step's overrides, so the allow-list (checked once, before the first step), the abort
rule, and the caps hold as in any drill; the caps are also held across the whole profile. A
step whose error rate passes ``drill.abort.error_rate`` ends the calibration: a target that
fails cannot be measured.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.scenario import load_scenario
from sim.scenario.schema import Scenario

from ..config import DrillConfig
from ..drill_launch import locust_process
from ..schedule import build_plan
from ..stops import Stop
from ..target.launch import free_port
from . import probe
from .profile import (
    JOURNEY,
    PROBE,
    SATURATED,
    Profile,
    Step,
    next_rate,
    probe_mixes,
    requests_per_session,
    step_overrides,
)


class CalibrationError(Exception):
    """A calibration that cannot go on (the message says why, in one line)."""


@dataclass
class StepResult:
    """What one step of the profile measured."""

    index: int
    sessions_per_s: float
    duration_s: float
    """The step's planned length (real seconds)."""
    ran_s: float
    offered: int
    """Requests the step's scheduled sessions would send."""
    requests: int
    """Requests completed (answered) within the step."""
    errors: int
    endpoints: dict[str, dict]
    """Per endpoint: requests, mean/p50/p95/p99 ms (from the intended start)."""
    cpu_s: float | None
    """Target CPU seconds the step cost (idle CPU subtracted), when its /metrics says."""
    stopped_because: str
    start_lag_ms: float = 0.0
    """Mean lateness of the sessions' starts (the load generator's, not the target's): part
    of every session's first request as measured from its intended start."""
    session_s: float = 0.0
    """How long a session lasts with nothing queueing (from the lightest step): sessions
    that start later than this before the step's end cannot finish within it."""
    mix: str = JOURNEY
    """The endpoints its sessions walk (profile.MIXES): the ramp's journey, or a probe's."""
    saturated: bool = field(init=False)
    throughput: float = field(init=False)
    """Requests per second completed: over the step, or while it ran when saturated."""

    def __post_init__(self) -> None:
        could_finish = max(0.0, 1 - self.session_s / self.duration_s)
        self.saturated = self.requests < SATURATED * self.offered * could_finish
        self.throughput = self.requests / (max(self.ran_s, self.duration_s) if self.saturated
                                           else self.duration_s)

    def as_dict(self) -> dict:
        return asdict(self)


def run_profile(scenario: Scenario, file: Path, overrides: list[str], overlays: list[Path],
                target: str, allow_hosts: list[str], profile: Profile, seed: int | None,
                report: Callable[[StepResult], None] = lambda _: None) -> list[StepResult]:
    """Run steps, light to past saturation; ``report`` hears of each step as it ends."""
    drill = scenario.drill
    idle = probe.idle_rate(target)
    per_session = requests_per_session(scenario)
    rate = profile.first_rate / per_session
    results: list[StepResult] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="peakday-calibrate-") as scratch:

        def run(step: Step) -> StepResult | None:
            """Run ``step`` unless it would pass the drill's caps (None)."""
            sent = sum(r.requests for r in results)
            offered = step.sessions_per_s * requests_per_session(scenario, step.mix)
            if (time.monotonic() - started + profile.step_s > drill.max_duration
                    or sent + offered * profile.step_s > drill.max_requests):
                return None
            config = DrillConfig(str(file), [*overrides, *step_overrides(scenario, step,
                                                                         profile.step_s)],
                                 target, str(Path(scratch) / f"step-{step.index}"), seed,
                                 master_port=free_port(), overlays=[str(o) for o in overlays],
                                 allow_hosts=allow_hosts)
            session_s = (_session_s(results[0], requests_per_session(scenario, step.mix))
                         if results else 0.0)
            result = _run_step(scenario, step, config, idle, session_s)
            results.append(result)
            report(result)
            return result

        for index in range(1, profile.max_steps + 1):
            result = run(Step(index, rate))
            if result is None or (result.saturated and any(r.saturated for r in results[:-1])):
                break
            rate = PROBE * rate if result.saturated else next_rate(rate, _p95(result),
                                                                   _p95(results[0]))
        if profile.probes and results and results[-1].saturated:
            ceiling = results[-1].sessions_per_s * per_session
            for mix in probe_mixes(scenario):
                if run(Step(len(results) + 1,
                            ceiling / requests_per_session(scenario, mix), mix)) is None:
                    break
    return results


def _p95(result: StepResult) -> float | None:
    """The step's request-weighted p95 over endpoints (a summary for choosing the next rate)."""
    figures = [(e["requests"], e["p95_ms"]) for e in result.endpoints.values() if e["p95_ms"]]
    total = sum(n for n, _ in figures)
    return sum(n * p for n, p in figures) / total if total else None


def _session_s(light: StepResult, per_session: float) -> float:
    """Mean request latency at the lightest step times the requests a session sends."""
    figures = [(e["requests"], e["mean_ms"]) for e in light.endpoints.values() if e["mean_ms"]]
    total = sum(n for n, _ in figures)
    return sum(n * m for n, m in figures) / total / 1000 * per_session if total else 0.0


def _offered(config: DrillConfig, seconds: float) -> int:
    """Requests the step's schedule holds (its sessions' steps, retries not counted)."""
    plan = build_plan(load_scenario(config.scenario, config.overrides, config.overlays),
                      config.seed)
    return sum(len(v.steps) for v in plan.visits if v.start < seconds)


def _run_step(scenario: Scenario, step: Step, config: DrillConfig, idle: float | None,
              session_s: float) -> StepResult:
    target, out = config.target, Path(config.out)
    before, since = probe.cpu_seconds(target), time.monotonic()
    status = locust_process("local", config)
    after, elapsed = probe.cpu_seconds(target), time.monotonic() - since
    if status != 0 or not (out / "drill.json").is_file():
        raise CalibrationError(f"step {step.index}: the drill's Locust process failed "
                               f"(exit {status})")
    measured = json.loads((out / "drill.json").read_text())
    cpu = None
    if before is not None and after is not None:
        cpu = max(0.0, after - before - (idle or 0.0) * elapsed)
    result = StepResult(
        index=step.index, sessions_per_s=step.sessions_per_s,
        duration_s=measured["planned_duration_s"], ran_s=measured["ran_s"],
        offered=_offered(config, measured["planned_duration_s"]),
        requests=measured["requests"], errors=measured["errors"],
        endpoints={name: {key: e[key] for key in ("requests", "errors", "mean_ms", "p50_ms",
                                                  "p95_ms", "p99_ms")}
                   for name, e in measured["endpoints"].items()},
        cpu_s=cpu, stopped_because=measured["stopped_because"],
        start_lag_ms=measured["start_lag_ms"].get("mean") or 0.0, session_s=session_s,
        mix=step.mix)
    limit = scenario.drill.abort.error_rate
    rate = result.errors / result.requests if result.requests else 1.0
    if rate > limit or measured["stop"] in (Stop.ERROR_RATE_ABORT, Stop.WORKER_REFUSED):
        raise CalibrationError(
            f"step {step.index} "
            f"({result.sessions_per_s * requests_per_session(scenario, step.mix):.0f} "
            f"requests/s): error rate {rate:.0%} (limit {limit:.0%}, drill.abort) — the target "
            "fails under load it should carry; nothing was calibrated")
    return result
