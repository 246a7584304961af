"""Business findings for the verdict: what the day means for sales, beside the SLOs.

SLOs say whether the platform held; a planner also needs to hear that the catalog ran dry by
mid-afternoon, that a "sold out" flash sale left units unsold, that bots took the deal, and
what the coupons cost. Each finding is a sentence with the figures it rests on, computed from
the summary alone (means over replications), so scripts and the report read the same words.
"""

from __future__ import annotations

from ..report.formatting import compact, value_of
from ..scenario.schema import Scenario


def business_findings(summary: dict, scenario: Scenario) -> list[dict]:
    """The findings that apply to this run, in the order a planner would raise them."""
    return [*_catalog(summary, scenario), *_flash_sales(summary), *_coupons(summary)]


def _catalog(summary: dict, scenario: Scenario) -> list[dict]:
    if scenario.catalog is None:
        return []
    inventory = summary.get("inventory", {})
    skus = [s.id for s in scenario.catalog.skus if s.id in inventory]
    out = sorted(((inventory[s]["sold_out_at_s"], s) for s in skus
                  if inventory[s]["sold_out_at"] is not None), key=lambda p: value_of(p[0]) or 0)
    if not out:
        return []
    lost = summary["lost_sales"]["by_cause"]["sold_out"]
    lost_value, gmv = value_of(lost["value"]) or 0.0, value_of(summary["gmv"]) or 0.0
    last = out[-1][1]
    if len(out) == len(skus):
        text = (f"Every catalog SKU sold out, the last ({last}) at "
                f"{inventory[last]['sold_out_at']}")
    else:
        text = f"{len(out)} of {len(skus)} catalog SKUs sold out (" + ", ".join(
            f"{s} at {inventory[s]['sold_out_at']}" for _, s in out) + ")"
    text += (f"; {compact(value_of(lost['count']))} sales worth {compact(lost_value)} were "
             "lost to empty shelves")
    if lost_value > gmv:
        text += f", more than the day's GMV ({compact(gmv)}): stock, not capacity, caps sales"
    return [{"kind": "catalog_sold_out", "text": text, "skus_sold_out": [s for _, s in out],
             "lost_value": lost_value, "gmv": gmv}]


def _flash_sales(summary: dict) -> list[dict]:
    found = []
    for sale in summary.get("flash_sales", []):
        sku, stock = sale["sku"], sale["stock"]
        unsold = value_of(sale.get("unsold")) or 0.0
        returned = value_of(sale.get("returned_after_close")) or 0.0
        if sale["sold_out_at"] and unsold >= 1:
            text = (f"{sku} ({sale['name']}) sold out at {sale['sold_out_at']}, yet "
                    f"{unsold:,.0f} of its {stock:,} units were never sold")
            if returned >= 1:
                text += (f": unpaid reservations returned {returned:,.0f} to stock after the "
                         f"sale closed at {sale['closes']}")
            found.append({"kind": "flash_sale_unsold", "sku": sku, "text": text,
                          "unsold": unsold, "returned_after_close": returned})
        sold = value_of(sale["sold"]) or 0.0
        share = value_of(sale["bot_share_of_stock"]) or 0.0
        if sold and share > 0:
            text = (f"Bots bought {share * sold:,.0f} of the {sold:,.0f} {sku} units sold "
                    f"({share:.0%})")
            found.append({"kind": "flash_sale_bots", "sku": sku, "text": text,
                          "bot_units": share * sold, "sold": sold})
    return found


def _coupons(summary: dict) -> list[dict]:
    coupons = summary.get("coupons") or {}
    if not coupons:
        return []
    cost = {name: value_of(c["discount"]) or 0.0 for name, c in coupons.items()}
    total, gmv = sum(cost.values()), value_of(summary["gmv"]) or 0.0
    share = f" ({total / gmv:.1%} of GMV)" if gmv else ""
    parts = ", ".join(f"{name} {compact(cost[name])} on {compact(value_of(c['uses']))} orders"
                      for name, c in coupons.items())
    return [{"kind": "coupon_cost", "text": f"Coupons cost {compact(total)}{share}: {parts}",
             "cost": total}]
