"""What a calibration leaves: the overlay (calibration.yaml), the fit with its residuals per
step (calibration.json), and the figure of the steps against the calibrated model's curve.

The overlay is one nested mapping, rendered twice: as YAML for ``--overlay calibration.yaml``
on any command, and as ``--set`` overrides, with which the residuals are predicted here (the
model of each step, exactly as ``drill --overlay`` would predict it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sim.report.load_curve import load_curve_figure, worst_error
from sim.results.compare import predict
from sim.scenario import load_scenario
from sim.scenario.schema import Scenario

from ..schedule import window_of
from .fit import Fit
from .profile import JOURNEY, Profile, Step, requests_per_session, shape, step_overrides
from .steps import STEADY, StepResult

CURVE_POINTS = 12


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.4g}ms"


def overlay(result: Fit) -> dict:
    """The partial scenario that puts the measured target into the model.

    ``inventory.lock_hold`` is 0: the model's checkout holds its worker for its service
    demand *and then* for the stock lock, but the measured checkout demand already holds the
    target's stock change (its transaction); the scenario's 4 ms on top made the calibrated
    model's checkout cost 4x what the target's did, and saturate a third earlier."""
    endpoints = {e: {"service": f"lognormal(mean={_ms(f.demand_s)}, cv={f.cv:g})"}
                 for e, f in result.endpoints.items()}
    return {
        "platform": {"instances": 1, "workers_per_instance": result.workers,
                     "endpoints": endpoints,
                     "admission": {"max_queue": None, "queue_timeout": None},
                     "autoscaling": {"enabled": False}},
        "inventory": {"lock_hold": "0s"},
        "drill": {"outside_server": {e: f"lognormal(mean={_ms(f.outside_s)}, cv={f.outside_cv:g})"
                                     if f.outside_s > 0 else "constant(0s)"
                                     for e, f in result.endpoints.items()},
                  **({"demand_by_load": result.demand_by_load} if result.demand_by_load
                     else {}),
                  **({"load_generator": {"cpu_by_load": {
                      x: _ms(c) for x, c in result.generator_cpu_by_load.items()}}}
                     if result.generator_cpu_by_load else {})},
    }


def overlay_yaml(document: dict, header: str) -> str:
    """Block-style YAML (no flow mappings: distributions carry commas)."""
    lines = [f"# {line}" for line in header.splitlines()]

    def emit(mapping: dict, depth: int) -> None:
        for key, value in mapping.items():
            if isinstance(value, dict):
                lines.append(f"{'  ' * depth}{key}:")
                emit(value, depth + 1)
            else:
                lines.append(f"{'  ' * depth}{key}: {_scalar(value)}")

    emit(document, 0)
    return "\n".join(lines) + "\n"


def overrides_of(document: dict, prefix: str = "") -> list[str]:
    """The overlay as ``path=value`` overrides."""
    out = []
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out += overrides_of(value, f"{path}.")
        else:
            out.append(f"{path}={_scalar(value)}")
    return out


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Source:
    """Where the scenario came from: the profile's steps are re-read from it for the model."""

    file: Path
    overrides: list[str]
    overlays: list[Path]
    scenario: Scenario
    seed: int

    def step_model(self, rate: float, step_s: float, calibrated: list[str],
                   mix: str = JOURNEY) -> Scenario:
        """The model of one step of ``rate`` sessions/s of ``mix`` with the calibrated
        target (its warm phase included: the model starts empty, as the step did)."""
        return load_scenario(self.file, [*self.overrides, *step_overrides(
            self.scenario, Step(0, rate, mix), step_s, self.warm_s), *calibrated],
            self.overlays)

    @cached_property
    def warm_s(self) -> float:
        """The steps' warm phase (the same for every step of the scenario)."""
        return shape(self.scenario).warm_s

    def predict_step(self, rate: float, step_s: float, calibrated: list[str],
                     mix: str = JOURNEY) -> dict[str, dict]:
        """Per endpoint, what the model predicts of one step's steady phase."""
        model = self.step_model(rate, step_s, calibrated, mix)
        return predict(model, window_of(model), self.seed)["phases"].get(STEADY, {})


def residuals(source: Source, steps: list[StepResult], result: Fit, profile: Profile
              ) -> list[dict]:
    """Per step: observed and predicted throughput, and p50/p95 per endpoint."""
    calibrated = overrides_of(overlay(result))
    rows = []
    for step in steps:
        predicted = source.predict_step(step.sessions_per_s, step.duration_s, calibrated,
                                        step.mix)
        total = sum(e["throughput"] for e in predicted.values())
        row: dict[str, Any] = {
            "step": step.index, "mix": step.mix, "saturated": step.saturated,
            "throughput": {"observed": round(step.throughput, 2), "predicted": round(total, 2),
                           "relative_error": _relative(total, step.throughput)},
            "endpoints": {}}
        for name, seen in step.endpoints.items():
            mine = predicted.get(name, {})
            row["endpoints"][name] = {
                "requests": seen["requests"],
                **{f"{key}": {"observed": seen[key], "predicted": _round(mine.get(key)),
                              "relative_error": _relative(mine.get(key), seen[key])}
                   for key in ("p50_ms", "p95_ms")}}
        rows.append(row)
    return rows


def curve(source: Source, steps: list[StepResult], result: Fit, profile: Profile
          ) -> list[dict]:
    """The calibrated model across load (the journey's mix), from the lightest step's rate to
    past the ramp's last."""
    calibrated = overrides_of(overlay(result))
    low = steps[0].sessions_per_s
    high = max(s.sessions_per_s for s in steps if s.mix == JOURNEY) * 1.1
    points = []
    for i in range(CURVE_POINTS):
        rate = low * (high / low) ** (i / (CURVE_POINTS - 1))
        at = source.predict_step(rate, steps[0].duration_s, calibrated)
        points.append({"sessions_per_s": rate,
                       "throughput": sum(e["throughput"] for e in at.values()),
                       "endpoints": at})
    return points


def figure(steps: list[StepResult], rows: list[dict], points: list[dict], result: Fit
           ) -> tuple[str, bytes]:
    """Observed steps of the ramp (the probes' mixes are not the curve's) against the
    calibrated model's curve; the title says how close."""
    ramp = [(s, row) for s, row in zip(steps, rows, strict=True) if s.mix == JOURNEY]
    observed = [{"label": f"step {s.index}" + (" (saturated)" if s.saturated else "")
                 + (" (load generator at its limit)" if s.generator_bound else ""),
                 "throughput": s.throughput,
                 "endpoints": {e: {"p95_ms": f["p95_ms"], "requests": f["requests"]}
                               for e, f in s.endpoints.items()}} for s, _ in ramp]
    predicted = {i: {e: f["p95_ms"]["predicted"] for e, f in row["endpoints"].items()}
                 for i, (_, row) in enumerate(ramp) if not row["saturated"]}
    worst = worst_error(observed, predicted, min_requests=50)
    ceiling = (f"saturates at {result.saturation_throughput:.0f} requests/s "
               f"({result.workers} worker{'s' if result.workers > 1 else ''})"
               if result.saturation_throughput else "not saturated")
    judged = (f"p95 within {worst[0]:.0%} below saturation (worst: {worst[1]})"
              if worst else "too few requests to judge p95")
    title = f"Calibrated target {ceiling}; {judged}"
    return title, load_curve_figure(points, observed, title)


def _relative(predicted: float | None, observed: float | None) -> float | None:
    if predicted is None or not observed:
        return None
    return round((predicted - observed) / observed, 4)


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 3)


def document(scenario: Scenario, target: str, profile: Profile, steps: list[StepResult],
             result: Fit, rows: list[dict], points: list[dict], title: str) -> dict:
    """calibration.json."""
    return {"scenario": scenario.name, "target": target,
            "profile": {"first_rate": profile.first_rate, "step_s": profile.step_s,
                        "max_steps": profile.max_steps, "probes": profile.probes,
                        "requests_per_session": requests_per_session(scenario)},
            "fit": result.as_dict(), "overlay": overlay(result),
            "steps": [s.as_dict() for s in steps], "residuals": rows,
            "curve": points, "figure": {"file": "calibration.png", "title": title}}
