"""Observed points against the predicted curve across load: the figure that says whether the
model of the target can be trusted at loads nobody measured.

One line per endpoint: the model's p95 as throughput grows (the drill predicted at several
multiples of its scale, or the calibrated model at several step rates); on it, the drill's or
the calibration steps' observed p95 as markers of the same colour. Used by the drill's report
(from comparison.json) and by ``peakday calibrate`` (from its fit).
"""

from __future__ import annotations

from ..scenario.schema import ENDPOINTS
from .figures import STYLES, canvas, finish

MIN_REQUESTS = 200
"""Endpoints with fewer observed requests are drawn but not judged in the title."""
TRUSTED = 0.25
"""A p95 predicted within this relative error counts as a model that knows the target."""


def worst_error(points: list[dict], predicted_p95: dict[int, dict[str, float | None]],
                min_requests: int = MIN_REQUESTS) -> tuple[float, str] | None:
    """The largest |relative error| of p95 over the points (with enough requests), and where."""
    worst: tuple[float, str] | None = None
    for index, point in enumerate(points):
        for endpoint, seen in point["endpoints"].items():
            mine = predicted_p95.get(index, {}).get(endpoint)
            if mine is None or not seen.get("p95_ms") or seen.get("requests", 0) < min_requests:
                continue
            error = abs(mine - seen["p95_ms"]) / seen["p95_ms"]
            if worst is None or error > worst[0]:
                worst = (error, f"{endpoint}, {point['label']}")
    return worst


def load_curve_figure(curve: list[dict], points: list[dict], title: str) -> bytes:
    """PNG: ``curve`` = [{throughput, endpoints: {e: {p95_ms}}}] as lines, ``points`` =
    [{label, throughput, endpoints: {e: {p95_ms, requests}}}] as markers."""
    with canvas(1, 4.2) as (fig, (ax,)):
        for (colour, dash), endpoint in zip(STYLES * 2, ENDPOINTS, strict=False):
            line = [(c["throughput"], c["endpoints"][endpoint]["p95_ms"]) for c in curve
                    if c["endpoints"].get(endpoint, {}).get("p95_ms")]
            seen = [(p["throughput"], p["endpoints"][endpoint]["p95_ms"]) for p in points
                    if p["endpoints"].get(endpoint, {}).get("p95_ms")]
            if not seen:
                continue
            if line:
                ax.plot(*zip(*line, strict=True), color=colour, linestyle=dash, lw=1.5,
                        label=f"{endpoint}: predicted")
            ax.plot(*zip(*seen, strict=True), color=colour, linestyle="none", marker="o",
                    ms=6, mfc="white", mew=1.6, label=f"{endpoint}: observed")
        ax.set_yscale("log")
        ax.set_xlabel("throughput, requests per second (all endpoints)")
        ax.set_ylabel("p95 latency, ms (log scale)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
        return finish(fig, ax, "load_curve", title).png


def comparison_figure(comparison: dict) -> tuple[str, bytes] | None:
    """The drill's observed p95 (whole drill and each phase) against the predicted curve."""
    curve = comparison.get("curve")
    if not curve:
        return None
    rows = comparison["rows"]
    phases = sorted({r["phase"] for r in rows if r["figure"] == "throughput"},
                    key=lambda p: p != "all")
    points, predicted = [], {}
    for index, phase in enumerate(phases):
        here = [r for r in rows if r["phase"] == phase and r["endpoint"] != "all"]
        throughput = sum(r["observed"] or 0 for r in here if r["figure"] == "throughput")
        endpoints = {r["endpoint"]: {"p95_ms": r["observed"], "requests": r.get("requests", 0)}
                     for r in here if r["figure"] == "latency p95"}
        points.append({"label": "whole drill" if phase == "all" else phase,
                       "throughput": throughput, "endpoints": endpoints})
        predicted[index] = {r["endpoint"]: r["predicted"] for r in here
                            if r["figure"] == "latency p95"}
    worst = worst_error(points, predicted)
    if worst is None:
        title = "Observed p95 against the predicted curve (too few requests to judge)"
    elif worst[0] <= TRUSTED:
        title = (f"Predicted p95 within {worst[0]:.0%} of the drill for every endpoint with "
                 f"≥{MIN_REQUESTS} requests (worst: {worst[1]})")
    else:
        title = (f"Predicted p95 off by up to {worst[0]:.0%} ({worst[1]}): the model's latency "
                 "for this target is not to be trusted (calibrate, or calibrate again)")
    return title, load_curve_figure(curve, points, title)
