"""Summary sections of the promotion-day parts: inventory, flash sales, payments, support.

Each function turns the replications' typed records (``Observation.parts``,
:mod:`sim.model.outcomes`) into the ``summary.json`` section the contract names. Figures use
:func:`.summary.figure`: a number for one replication, mean and interval (at the scenario's
``sizing.confidence``) for several.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ..model.outcomes import SupportIntervals
from ..run import RunResult

Figure = Callable[[list[float]], object]


STOCK_FIGURES = ("initial", "sold", "reserved", "available", "oversold", "sold_out_misses",
                 "limit_misses", "sold_to_bots")
"""The :class:`~sim.model.outcomes.StockFigures` fields a SKU's section shows, in its order."""
SALE_FIGURES = ("buyers", "bots", "served", "misses", "sold_out", "closed", "limit_exceeded")
"""The :class:`~sim.model.outcomes.FlashSaleFigures` counts a sale's section shows."""


def _safe(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _each_field(figure: Figure, records: Sequence[object], names: Iterable[str]
                ) -> dict[str, object]:
    """The figure of each named field over the replications' records (one record each)."""
    return {name: figure([getattr(record, name) for record in records]) for name in names}


def inventory_section(result: RunResult, figure: Figure) -> dict:
    clock = result.scenario.clock
    skus = result.observations[0].parts.inventory
    section = {}
    for sku in skus:
        per_rep = [o.parts.inventory[sku] for o in result.observations]
        sold_out = [s.sold_out_at for s in per_rep if s.sold_out_at is not None]
        entry = _each_field(figure, per_rep, STOCK_FIGURES)
        entry["sold_out_at_s"] = figure(sold_out) if sold_out else None
        mean_out = sum(sold_out) / len(sold_out) if sold_out else None
        entry["sold_out_at"] = clock.label(mean_out, seconds=True) if mean_out is not None \
            else None
        entry["sold_out_replications"] = len(sold_out)
        entry["lock_wait_p99_ms"] = figure([s.lock_wait.quantile(0.99) * 1000
                                            for s in per_rep])
        section[sku] = entry
    return section


def flash_sale_section(result: RunResult, figure: Figure) -> list[dict]:
    sales = result.observations[0].parts.flash_sales
    scenario_sales = result.scenario.promotions.flash_sales if result.scenario.promotions else []
    section = []
    for index, sale in enumerate(sales):
        per_rep = [o.parts.flash_sales[index] for o in result.observations]
        stock = [o.parts.inventory[sale.sku] for o in result.observations]
        entry: dict[str, object] = {"name": sale.name, "sku": sale.sku,
                                    "stock": scenario_sales[index].sku.stock,
                                    **_each_field(figure, per_rep, SALE_FIGURES)}
        entry["sold"] = figure([s.sold for s in stock])
        entry["bot_share_of_stock"] = figure([_safe(s.sold_to_bots, s.sold) for s in stock])
        entry["lock_wait_p99_ms"] = figure([s.lock_wait.quantile(0.99) * 1000 for s in stock])
        entry["unsold"] = figure([s.available + s.reserved for s in stock])
        closes = result.scenario.clock.window(scenario_sales[index].start,
                                              scenario_sales[index].end)[1]
        entry["closes"] = result.scenario.clock.label(closes)
        entry["returned_after_close"] = figure([
            _returned_after(o.series.get(f"stock_{sale.sku}"), closes, s.available)
            for o, s in zip(result.observations, stock, strict=True)])
        out = [s.sold_out_at for s in stock if s.sold_out_at is not None]
        entry["sold_out_at_s"] = figure(out) if out else None
        entry["sold_out_at"] = (result.scenario.clock.label(sum(out) / len(out), seconds=True)
                                if out else None)
        section.append(entry)
    return section


def _returned_after(available: np.ndarray | None, closes: float, final: float) -> float:
    """Units back on the shelf at the end that were not there when the sale closed: unpaid
    reservations that lapsed after nobody could buy them any more. ``available`` is the
    minute series (read at the end of each minute)."""
    if available is None or not len(available):
        return 0.0
    minute = min(max(math.ceil(closes / 60.0) - 1, 0), len(available) - 1)
    return max(0.0, final - float(available[minute]))


def payments_section(result: RunResult, figure: Figure) -> dict | None:
    first = result.observations[0].parts.payments
    if first is None:
        return None
    reps = [o.parts.payments for o in result.observations if o.parts.payments is not None]
    by_channel = {}
    totals: dict[str, list[float]] = {"attempts": [], "failures": [], "retries": [],
                                    "timeouts": []}
    for rep in reps:
        stats = rep.values()
        totals["attempts"].append(sum(s.attempts for s in stats))
        totals["failures"].append(sum(s.failures for s in stats))
        totals["retries"].append(sum(s.retries for s in stats))
        totals["timeouts"].append(sum(s.timeouts for s in stats))
    for name in first:
        per_rep = [rep[name] for rep in reps]
        by_channel[name] = {
            "attempts": figure([s.attempts for s in per_rep]),
            "failures": figure([s.failures for s in per_rep]),
            "success_rate": figure([_safe(s.attempts - s.failures, s.attempts) for s in per_rep]),
            "retries": figure([s.retries for s in per_rep]),
            "timeouts": figure([s.timeouts for s in per_rep]),
            "latency_p99_ms": figure([s.latency.quantile(0.99) * 1000 for s in per_rep]),
        }
    return {
        "attempts": figure(totals["attempts"]),
        "failures": figure(totals["failures"]),
        "success_rate": figure([_safe(a - f, a) for a, f in zip(totals["attempts"],
                                                                totals["failures"],
                                                                strict=True)]),
        "retries": figure(totals["retries"]),
        "timeouts": figure(totals["timeouts"]),
        "lost_orders": figure([o.losses.by_cause["payment_failed"].count
                               for o in result.observations]),
        "lost_value": figure([o.losses.by_cause["payment_failed"].value
                              for o in result.observations]),
        "by_channel": by_channel,
    }


def support_rates(figures: SupportIntervals, lo: int = 0,
                  hi: int | None = None) -> dict[str, float]:
    """Service level, ASA and the rest from summed per-interval figures [lo, hi)."""
    total = {k: sum(v[lo:hi]) for k, v in figures.items()}
    return {
        "contacts": total["contacts"],
        "deflected": total["deflected"],
        "offered": total["offered"],
        "answered": total["answered"],
        "abandoned": total["abandoned"],
        "service_level": _safe(total["within_target"], total["offered"]),
        "asa_s": _safe(total["wait_answered_s"], total["answered"]),
        "p_wait": _safe(total["waited"], total["offered"]),
        "abandon_rate": _safe(total["abandoned"], total["offered"]),
        "occupancy": _safe(total["busy_s"], total["staffed_s"]),
    }


def _first_measured(result: RunResult, per: float) -> int:
    return math.ceil(result.scenario.clock.warmup / per)


def support_section(result: RunResult, figure: Figure) -> dict | None:
    reps = [o.parts.support for o in result.observations if o.parts.support is not None]
    if not reps:
        return None
    per = result.scenario.sizing.agents.per
    first = _first_measured(result, per)
    overall = [support_rates(r.intervals, first) for r in reps]
    section: dict[str, object] = {key: figure([o[key] for o in overall]) for key in overall[0]}
    section["by_source"] = {src: figure([r.by_source[src] for r in reps])
                            for src in reps[0].by_source}
    clock = result.scenario.clock
    intervals = []
    for i in range(len(reps[0].agents_schedule)):
        rates = [support_rates(r.intervals, i, i + 1) for r in reps]
        entry: dict[str, object] = {
            "from": clock.label(i * per),
            "to": clock.label(min((i + 1) * per, clock.duration)),
            "agents": reps[0].agents_schedule[i],
        }
        for key in ("offered", "deflected", "answered", "abandoned", "service_level", "asa_s",
                    "abandon_rate", "occupancy"):
            values = [r[key] for r in rates if not math.isnan(r[key])]
            entry[key] = round(sum(values) / len(values), 4) if values else None
        intervals.append(entry)
    section["intervals"] = intervals
    return section



def hourly_section(result: RunResult, figure: Figure) -> list[dict]:
    """The servers hour by hour: load, instances, utilization, errors and p99 per endpoint.

    What a planner checks against the autoscaler's limits and the SLOs (judged per hour), and
    what the report's latency figure draws instead of noisy per-minute lines.
    """
    clock = result.scenario.clock
    per_hour = 60
    observations = result.observations
    hours = math.ceil(len(observations[0].series["minute"]) / per_hour)
    first = math.ceil(clock.warmup / 60.0)
    section = []
    for hour in range(hours):
        window = slice(max(hour * per_hour, first), (hour + 1) * per_hour)
        if window.start >= window.stop:
            continue
        series = [o.series for o in observations]
        minutes = len(series[0]["requests"][window])
        entry: dict[str, object] = {
            "from": clock.label(hour * 3600.0),
            "to": clock.label(min((hour + 1) * 3600.0, clock.duration)),
            "requests_per_s": figure([float(s["requests"][window].sum()) / (minutes * 60)
                                      for s in series]),
            "peak_instances": figure([float(np.nanmax(s["instances"][window]))
                                      for s in series]),
            "utilization": figure([float(np.nanmean(s["utilization"][window]))
                                   for s in series]),
            "error_rate": figure([_safe(float(s["errors"][window].sum()),
                                        float(s["requests"][window].sum())) for s in series]),
        }
        p99: dict[str, object] = {}
        for endpoint in ("all", *result.scenario.platform.endpoints):
            hists = [o.hourly_latency[hour].get(endpoint) for o in observations
                     if hour < len(o.hourly_latency)]
            values = [h.quantile(0.99) * 1000 for h in hists if h is not None and h.count]
            if values:
                p99[endpoint] = figure(values)
        entry["p99_ms"] = p99
        section.append(entry)
    return section
