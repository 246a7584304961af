"""The verdict a planner reads: merged breaches in plain words, and business findings."""

from __future__ import annotations

import copy

from sim.results.findings import business_findings
from sim.results.slo import merge_breaches
from sim.scenario import ScenarioError, load_scenario

from .conftest import SCENARIOS


def _support(start: int, levels: list[float]) -> list[dict]:
    """Service-level violations for consecutive half-hours from ``start`` o'clock."""
    rows = []
    for i, level in enumerate(levels):
        begin = start * 60 + 30 * i
        rows.append({"metric": "support_service_level", "endpoint": "support",
                     "from": f"{begin // 60:02d}:{begin % 60:02d}",
                     "to": f"{(begin + 30) // 60:02d}:{(begin + 30) % 60:02d}",
                     "value": level, "limit": 0.8, "short_by": "n/a"})
    return rows


def _latency(endpoint: str, value_ms: float, limit_ms: float, hour: int = 20,
             minutes: list[str] | None = None) -> dict:
    return {"metric": "latency_p99", "endpoint": endpoint, "from": f"{hour:02d}:00",
            "to": f"{hour + 1:02d}:00", "value_ms": value_ms, "limit_ms": limit_ms,
            "over_by": "n/a", "minutes_over": len(minutes or []) or 12,
            **({"minutes": minutes} if minutes else {})}


def test_consecutive_support_intervals_merge_into_one_row_that_says_short_by():
    rows = merge_breaches(_support(1, [0.54, 0.01, 0.0, 0.25]))
    assert len(rows) == 1
    row = rows[0]
    assert (row["from"], row["to"], row["intervals"]) == ("01:00", "03:00", 4)
    assert row["worst"] == 0.0 and row["worst_at"] == "02:00"
    assert row["text"] == ("support service level down to 0% < 80% (short by 80 points), "
                           "worst at 02:00")


def test_service_level_and_abandonment_over_one_window_share_a_row():
    abandon = [{**v, "metric": "support_abandon_rate", "value": a, "limit": 0.05}
               for v, a in zip(_support(2, [0.3, 0.2]), [0.4, 0.577], strict=True)]
    (row,) = merge_breaches([*_support(2, [0.01, 0.0]), *abandon])
    assert row["text"] == ("support service level down to 0% < 80% (short by 80 points), worst "
                           "at 02:30; abandonment up to 57.7% > 5.0% (over by 53 points), "
                           "worst at 02:30")


def test_a_gap_starts_a_new_row():
    rows = merge_breaches(_support(1, [0.5]) + _support(3, [0.7, 0.6]))
    assert [(r["from"], r["to"]) for r in rows] == [("01:00", "01:30"), ("03:00", "04:00")]


def test_a_shortfall_under_one_point_is_not_zero_points():
    (row,) = merge_breaches(_support(1, [0.796]))
    assert "short by 0.4 points" in row["text"]
    assert "over by" not in row["text"]


def test_endpoints_breaking_latency_in_one_hour_share_a_row_with_the_worst_named():
    rows = merge_breaches([_latency("home", 1994, 1000, minutes=["20:00"]),
                           _latency("checkout", 2245, 800, minutes=["20:00"]),
                           _latency("pay", 2116, 1500, minutes=["20:00", "20:01"])])
    assert len(rows) == 1
    text = rows[0]["text"]
    assert text.startswith("p99 over its SLO on home, checkout, pay; worst checkout 2,245 ms "
                           "> 800 ms (over by 181%)")
    assert text.endswith("the breach sits in 2 minutes, 20:00, 20:01")


def test_an_error_burst_says_it_sits_in_one_minute_and_what_the_rest_of_the_hour_was():
    (row,) = merge_breaches([{"metric": "error_rate", "endpoint": "all", "from": "20:00",
                              "to": "21:00", "value": 0.191, "limit": 0.005, "over_by": "n/a",
                              "minutes_over": 1, "minutes": ["20:00"],
                              "failed_in_burst": 203380, "rest_of_hour": 0.0002}])
    assert row["text"] == ("error rate 19.10% > 0.50% (over by 19 points); the breach sits in one "
                           "minute, 20:00 (203,380 failed requests; the rest of the hour 0.02%)")


def test_a_breach_spread_over_the_hour_is_not_called_a_burst():
    (row,) = merge_breaches([_latency("cart", 1200, 1000, hour=h) for h in (9, 10)])
    assert "sits in" not in row["text"] and row["intervals"] == 2
    assert row["text"].startswith("cart p99 up to 1,200 ms > 1,000 ms")


def _summary() -> dict:
    """A summary shaped like double11's (seed 42), the figures the issue quotes."""
    sold_out = {"A100": "12:01:23", "C300": "15:45:39"}
    inventory = {sku: {"sold_out_at": at, "sold_out_at_s": i * 1000.0}
                 for i, (sku, at) in enumerate(sold_out.items())}
    return {
        "gmv": {"mean": 40.9e6, "ci95": [40e6, 41e6]},
        "lost_sales": {"by_cause": {"sold_out": {"count": 230782, "value": 51.1e6}}},
        "inventory": inventory,
        "flash_sales": [{"name": "20:00 hot deal (限时秒杀)", "sku": "H1", "stock": 2000,
                         "sold": 1623.0, "bot_share_of_stock": 602 / 1623,
                         "sold_out_at": "20:00:21", "unsold": 377.0,
                         "returned_after_close": 377.0, "closes": "20:10"}],
        "coupons": {"300-40": {"uses": 25274, "discount": 1010960},
                    "free-shipping": {"uses": 53023, "discount": 636276}},
    }


def test_business_findings_name_sell_outs_unsold_flash_units_bots_and_coupon_costs():
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml")  # catalog A100 and C300
    texts = [f["text"] for f in business_findings(_summary(), scenario)]
    assert texts == [
        "Every catalog SKU sold out, the last (C300) at 15:45:39; 230.8 k sales worth 51.1 M "
        "were lost to empty shelves, more than the day's GMV (40.9 M): stock, not capacity, "
        "caps sales",
        "H1 (20:00 hot deal (限时秒杀)) sold out at 20:00:21, yet 377 of its 2,000 units were "
        "never sold: unpaid reservations returned 377 to stock after the sale closed at 20:10",
        "Bots bought 602 of the 1,623 H1 units sold (37%)",
        "Coupons cost 1.6 M (4.0% of GMV): 300-40 1.0 M on 25.3 k orders, free-shipping "
        "636.3 k on 53.0 k orders",
    ]


def test_no_findings_when_nothing_sold_out_and_no_bots():
    summary = _summary()
    quiet = copy.deepcopy(summary)
    for sku in quiet["inventory"].values():
        sku["sold_out_at"] = None
    quiet["flash_sales"][0].update(sold_out_at=None, bot_share_of_stock=0.0)
    quiet["coupons"] = {}
    assert business_findings(quiet, load_scenario(SCENARIOS / "flash-sale.yaml")) == []


def test_free_shipping_needs_the_fee_it_absorbs(tmp_path):
    text = (SCENARIOS / "double11.yaml").read_text()
    broken = tmp_path / "d.yaml"
    broken.write_text(text.replace("kind: free_shipping, off: 12,", "kind: free_shipping,"))
    try:
        load_scenario(broken)
    except ScenarioError as exc:
        assert exc.errors == [f"{broken}:73: promotions.coupons.1.off: a free_shipping coupon "
                              "needs the shipping fee it absorbs per order (off: 12), or it "
                              "costs nothing"]
    else:
        raise AssertionError("a free_shipping coupon without a fee was accepted")
