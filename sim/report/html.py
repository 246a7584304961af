"""The self-contained HTML report: figures embedded as base64 PNG, tables for the numbers.

Rendered from a Jinja2 template; every number goes through :func:`fmt`, so thousands
separators, percentages, units and confidence intervals look the same everywhere.
"""

from __future__ import annotations

import base64
from importlib import resources

import jinja2

from ..behaviour.slo import limit_for
from ..scenario.schema import ENDPOINTS
from ..scenario.units import format_duration
from .data import ReportData
from .figures import Figure
from .fonts import MISSING_NOTE, cjk_family, needs_cjk
from .formatting import SummaryFigure, compact, confidence_level, fmt, plan_text, value_of

HEADINGS = {
    "traffic": "The day at a glance",
    "latency": "Latency per endpoint against its SLO",
    "errors": "Errors and shed requests",
    "stock": "Stock and sell-outs",
    "payments": "Payments",
    "support": "Customer service",
}


def tile(figure: SummaryFigure, kind: str = "int") -> tuple[str, str]:
    """A key figure short enough for one line of tiles: ``40.9 M``, ``1.47%``; its confidence
    interval (when replicated) as a second, smaller line."""
    def short(value: SummaryFigure) -> str:
        return compact(value_of(value)) if kind == "int" else fmt(value, kind)

    if isinstance(figure, dict):
        low, high = figure["ci95"]
        return short(figure["mean"]), f"{short(low)}–{short(high)}"
    return short(figure), ""


def _context(data: ReportData, figures: list[Figure]) -> dict:
    s = data.summary
    scenario = data.scenario
    platform = s["platform"]
    latency = s["latency_ms"]
    violated = {v["endpoint"] for v in s["slo"]["violations"] if v["metric"] == "latency_p99"}
    key = [
        ("sessions", tile(s["sessions"])),
        ("orders", tile(s["orders"])),
        ("GMV (before discounts)", tile(s["gmv"])),
        ("lost sales (value)", tile(s["lost_sales"]["value"])),
        ("peak requests / s", tile(platform["peak_requests_per_s"])),
        ("error rate", tile(s["error_rate"], "pct")),
        ("p99 latency, all endpoints", tile(latency.get("all", {}).get("p99"), "ms")),
        ("peak utilization (per minute)", tile(platform["peak_utilization"], "pct")),
        ("peak instances", tile(platform["peak_instances"])),
        ("instance-hours", tile(platform["instance_hours"])),
    ]
    if s.get("support"):
        key += [("support contacts", tile(s["support"]["contacts"])),
                ("support service level", tile(s["support"]["service_level"], "pct"))]
    lost = [(cause.replace("_", " "), fmt(v["count"]), fmt(v["value"], "money"))
            for cause, v in s["lost_sales"].get("by_cause", {}).items()
            if (v["count"]["mean"] if isinstance(v["count"], dict) else v["count"])]
    latency_rows = []
    for endpoint in (*ENDPOINTS, "all"):
        if endpoint not in latency:
            continue
        figures_ = latency[endpoint]
        limit = limit_for(scenario.slo, endpoint) if endpoint != "all" else None
        latency_rows.append({"bad": endpoint in violated, "cells": [
            endpoint, *(fmt(figures_[k], "ms") for k in ("mean", "p50", "p95", "p99")),
            f"{limit * 1000:,.0f} ms" if limit else "–"]})
    phases = [[name, *(fmt(p["latency_ms"].get("all", {}).get(k), "ms")
                       for k in ("p50", "p95", "p99"))]
              for name, p in s.get("phases", {}).items() if p["latency_ms"]]
    inventory = [[sku, fmt(v["initial"]), fmt(v["sold"]), fmt(v["reserved"]),
                  v["sold_out_at"] or "–", fmt(v["sold_out_misses"]), fmt(v["limit_misses"]),
                  fmt(v["lock_wait_p99_ms"], "ms"), fmt(v["oversold"])]
                 for sku, v in s.get("inventory", {}).items()]
    flash = [[f["name"], f["sku"], fmt(f["stock"]), fmt(f["buyers"]), fmt(f["served"]),
              fmt(f["misses"]), fmt(f["bot_share_of_stock"], "pct"), f["sold_out_at"] or "–"]
             for f in s.get("flash_sales", [])]
    channels = [[name, fmt(c["attempts"]), fmt(c["failures"]), fmt(c["success_rate"], "pct"),
                 fmt(c["retries"]), fmt(c["timeouts"]), fmt(c["latency_p99_ms"], "ms")]
                for name, c in (s.get("payments") or {}).get("by_channel", {}).items()]
    target = scenario.slo.support if scenario.slo and scenario.slo.support else None
    support = [{"bad": bool(target and i["offered"] and i["service_level"] is not None
                            and i["service_level"] < target.service_level),
                "cells": [f"{i['from']}–{i['to']}", fmt(i["agents"]), fmt(i["offered"]),
                          fmt(i["deflected"]), fmt(i["answered"]), fmt(i["abandoned"]),
                          fmt(i["service_level"], "pct"), fmt(i["asa_s"], "s"),
                          fmt(i["occupancy"], "pct")]}
               for i in (s.get("support") or {}).get("intervals", [])]
    bad_hours = {v["from"] for v in s["slo"]["violations"]
                 if v["metric"] in ("latency_p99", "error_rate")}
    servers = [{"bad": h["from"] in bad_hours,
                "cells": [f"{h['from']}–{h['to']}", *(fmt(value_of(h[k]), kind) for k, kind in (
                    ("requests_per_s", "int"), ("peak_instances", "int"),
                    ("utilization", "pct"), ("error_rate", "pct"))),
                    fmt(value_of(h["p99_ms"].get("all")), "ms")]}
               for h in s.get("hourly", [])]
    coupons = [[name, fmt(c["uses"]), fmt(c["discount"], "money")]
               for name, c in s.get("coupons", {}).items()]
    names = [s["scenario"], *scenario.traffic.phases, *s.get("inventory", {}),
             *(f["name"] for f in s.get("flash_sales", [])), *s.get("coupons", {})]
    return {
        "font_note": MISSING_NOTE if cjk_family() is None and any(map(needs_cjk, names))
        else "",
        "plan": plan_text(s.get("options") or {}),
        "s": s, "confidence": confidence_level(s), "slo": s["slo"],
        "findings": s.get("findings", []), "key_figures": key,
        "lost": lost,
        "start": scenario.clock.start.strftime("%Y-%m-%d %H:%M %Z").strip(),
        "duration": format_duration(scenario.clock.duration),
        "figures": [{"name": f.name, "title": f.title,
                     "b64": base64.b64encode(f.png).decode()} for f in figures],
        "headings": HEADINGS, "latency": latency_rows, "phases": phases,
        "inventory": inventory, "flash_sales": flash, "channels": channels,
        "support": support, "coupons": coupons, "servers": servers,
    }


def render_html(data: ReportData, figures: list[Figure]) -> bytes:
    template_text = resources.files("sim.report").joinpath("templates/report.html.j2") \
        .read_text()
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(template_text)
    return template.render(**_context(data, figures)).encode()
