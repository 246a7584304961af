"""The model's prediction for a drill, set beside what the drill observed.

A drill replays the scenario's ``drill.window`` at ``scale`` of its rates (and, against the
reference service, with stock scaled alike). The prediction runs the model on that same scaled
scenario, with the same seed, and reads the window off its minute series. The comparison is
what calibration starts from: where the two disagree, either the scenario's service demands
or the target's behaviour is not what the plan assumes.
"""

from __future__ import annotations

import math

import numpy as np

from .model.day import simulate_day
from .model.observer import MINUTE
from .scenario.schema import Scenario


def scaled_stock(stock: int, scale: float) -> int:
    """Stock at a drill's scale: rounded, and at least one unit where there was any.

    The reference service seeds its SKUs with this rule, so the prediction and the drill's
    target hold the same stock."""
    return 0 if stock == 0 else max(1, math.floor(stock * scale + 0.5))


def scaled(scenario: Scenario) -> Scenario:
    """The scenario at the drill's scale: traffic, flash-sale audiences and stock."""
    scale = scenario.drill.scale
    doc = scenario.model_dump(mode="json", by_alias=True)
    doc["traffic"]["sessions_per_min"] = {t: v * scale
                                          for t, v in doc["traffic"]["sessions_per_min"].items()}
    for sku in (doc.get("catalog") or {}).get("skus", []):
        sku["stock"] = scaled_stock(sku["stock"], scale)
    for sale in (doc.get("promotions") or {}).get("flash_sales", []):
        sale["audience"] = round(sale["audience"] * scale)
        sale["sku"]["stock"] = scaled_stock(sale["sku"]["stock"], scale)
    if doc.get("support"):
        doc["support"]["contacts"]["baseline_per_hour"] *= scale
    return Scenario.model_validate(doc)


def predict(scenario: Scenario, window: tuple[float, float], seed: int | None = None) -> dict:
    """Sessions, error rate and sell-outs the model expects inside the drill window."""
    model = scaled(scenario)
    obs = simulate_day(model, np.random.SeedSequence(scenario.seed if seed is None else seed))
    first, last = int(window[0] // MINUTE), math.ceil(window[1] / MINUTE)
    series = obs.series
    requests = float(series["requests"][first:last].sum())
    errors = float(series["errors"][first:last].sum())
    sold_out = {sku: figures["sold_out_at"] for sku, figures in obs.extra["inventory"].items()
                if figures["sold_out_at"] is not None
                and window[0] <= figures["sold_out_at"] <= window[1]}
    return {"sessions": float(series["arrivals"][first:last].sum()),
            "error_rate": errors / requests if requests else 0.0,
            "sold_out_at": sold_out}


def compare(scenario: Scenario, drill: dict, window: tuple[float, float],
            seed: int | None = None) -> dict:
    """``comparison.json``: predicted and observed, side by side, with the differences."""
    predicted = predict(scenario, window, seed)
    clock = scenario.clock
    compress = scenario.drill.compress
    rows = [{"figure": "sessions in the window", "predicted": round(predicted["sessions"]),
             "observed": drill["sessions"]["started"]},
            {"figure": "error rate", "predicted": round(predicted["error_rate"], 5),
             "observed": drill["error_rate"]}]
    for sku, at in predicted["sold_out_at"].items():
        seen = drill["sold_out"].get(sku)
        observed_at = window[0] + seen["after_s"] * compress if seen else None
        rows.append({"figure": f"{sku} sold out at", "predicted": clock.label(at, seconds=True),
                     "observed": seen["clock"] if seen else "not sold out",
                     "difference_s": round(observed_at - at, 1) if seen else None})
    return {"scenario": scenario.name, "window": [clock.label(window[0]),
                                                  clock.label(window[1])],
            "scale": scenario.drill.scale, "rows": rows,
            "note": "prediction: the model on the scenario at the drill's scale, same seed; "
                    "observed: drill.json"}
