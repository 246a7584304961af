"""A scenario at a drill's scale: the traffic, audiences and stock a drill replays.

A drill plays ``drill.scale`` of the scenario against a small target. The drill plans its
sessions from the scaled scenario, the reference service seeds its stock from it, and the
model predicts the drill on it (``sim/results/compare.py``): one rule for all three.
"""

from __future__ import annotations

import math

from ..scenario.schema import Scenario


def scaled_stock(stock: int, scale: float) -> int:
    """Stock at a drill's scale: rounded, and at least one unit where there was any (a sale
    that sells out at full scale must still sell out in the drill)."""
    return 0 if stock == 0 else max(1, math.floor(stock * scale + 0.5))


def scaled(scenario: Scenario) -> Scenario:
    """The scenario at ``drill.scale``: session rates, flash-sale audiences, stock and the
    support baseline scaled; everything else (journeys, durations, limits) as it is."""
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
        contacts = doc["support"]["contacts"]
        baseline = contacts["baseline_per_hour"]
        contacts["baseline_per_hour"] = ({t: v * scale for t, v in baseline.items()}
                                         if isinstance(baseline, dict) else baseline * scale)
    return Scenario.model_validate(doc)
