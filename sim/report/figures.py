"""The report's figures (matplotlib, no display): each returns PNG bytes and its conclusion.

A planner reads the title first, so each title says what to conclude ("checkout p99 broke its
800 ms SLO in 2 hours"), and the axes say what is drawn, with units and local clock times.
Lines differ in style as well as colour, so the figures survive greyscale printing.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from ..scenario.schema import ENDPOINTS
from .data import ReportData
from .fonts import drawable, font_family
from .formatting import confidence_level

STYLES = [("#1b4f72", "-"), ("#c0392b", "--"), ("#117a65", "-."), ("#7d3c98", ":"),
          ("#b9770e", (0, (5, 1, 1, 1))), ("#566573", (0, (1, 1)))]
"""Dark-to-mid colours with distinct dash patterns: readable in greyscale."""
BAND = "#aab7b8"


@dataclass
class Figure:
    name: str
    """File name stem: ``<name>.png``."""
    title: str
    """The conclusion, also used as the figure's caption in the HTML."""
    png: bytes


@contextmanager
def canvas(rows: int = 1, height: float = 3.6) -> Iterator[tuple]:
    """``rows`` stacked axes 11 inches wide in the report's fonts (CJK names drawn), the figure
    closed whatever happens: how every figure of every peakday report starts."""
    with plt.rc_context({"font.family": font_family()}):
        fig, axes = plt.subplots(rows, 1, figsize=(11, height * rows), sharex=True,
                                 squeeze=False, dpi=110)
        try:
            yield fig, [a for (a,) in axes]
        finally:
            plt.close(fig)


TITLE_WIDTH = 105
"""Characters of a title's line over an 11-inch figure at 11 pt (a longer one ran off the
PNG's edge: the drill's load-curve verdict with its advice)."""


def finish(fig, ax, name: str, title: str) -> Figure:
    """How every figure ends: its conclusion as the title, left-aligned over ``ax`` and
    wrapped to the figure's width, and the PNG (the HTML uses the title again, whole, as the
    caption)."""
    ax.set_title(textwrap.fill(title, TITLE_WIDTH), fontsize=11, loc="left")
    return Figure(name, title, png_bytes(fig))


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes, without a timestamp (same data, same bytes)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def clock_ticks(ax, tz) -> None:
    """Ticks on round local clock times: a date locator in the scenario's time zone (an axis of
    ``date2num`` floats would otherwise get plain-number ticks such as 05:48, 10:36)."""
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))


def _clock_axis(ax, data: ReportData) -> None:
    tz = data.times[0].tzinfo
    span = data.times[-1] - data.times[0]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span <= timedelta(days=1)
                                                      else "%d %b %H:%M", tz=tz))
    ax.set_xlabel(f"local time (UTC{data.times[0].strftime('%z')[:3]})")
    ax.grid(alpha=0.3)


def _shade_phases(ax, data: ReportData, label: bool) -> None:
    """Alternate phases shaded; names along the top edge, where no curve runs, and only for
    phases wide enough to hold one (a short flash-sale phase is zoomed in its own panel)."""
    clock = data.scenario.clock
    for i, (name, (start, end)) in enumerate(data.scenario.traffic.phases.items()):
        opens, closes = clock.window(start, end)
        left, right = clock.local(opens), clock.local(min(closes, clock.duration))
        if i % 2 == 0:
            ax.axvspan(left, right, color="#eaeded", zorder=0)
        if label and (right - left).total_seconds() >= 0.06 * clock.duration:
            ax.text(left + (right - left) / 2, 0.97, drawable(name, "phase"),
                    transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8,
                    color="#34495e", bbox={"facecolor": "white", "edgecolor": "none",
                                           "alpha": 0.7, "pad": 1})


def _mark_flash_sales(ax, data: ReportData) -> None:
    promotions = data.scenario.promotions
    if promotions is None:
        return
    clock = data.scenario.clock
    for sale in promotions.flash_sales:
        at = clock.local(clock.window(sale.start, sale.end)[0])
        ax.axvline(at, color="#c0392b", ls="--", lw=1)
        ax.text(at, 0.97, f" {drawable(sale.name)} ", transform=ax.get_xaxis_transform(),
                fontsize=8,
                color="#c0392b", va="top", ha="right",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def _peak(values: np.ndarray, times: list[datetime]) -> tuple[float, str]:
    if not len(values) or np.all(np.isnan(values)):
        return 0.0, "–"
    i = int(np.nanargmax(values))
    return float(values[i]), times[i].strftime("%H:%M")


def _sale_windows(data: ReportData) -> list[tuple[str, datetime, datetime]]:
    """Each flash sale's burst: from 10 minutes before it opens to 20 after it closes."""
    promotions = data.scenario.promotions
    if promotions is None:
        return []
    clock = data.scenario.clock
    windows = []
    for sale in promotions.flash_sales[:MAX_ZOOMS]:
        opens, closes = clock.window(sale.start, sale.end)
        if opens >= clock.duration:
            continue
        windows.append((drawable(sale.name), clock.local(max(0.0, opens - 600)),
                        clock.local(min(clock.duration, closes + 1200))))
    return windows


MAX_ZOOMS = 3
"""Flash sales zoomed in their own panels (more would be too narrow to read)."""


def _load_panel(top, data: ReportData) -> None:
    """Sessions started per minute on a log axis, so the daily curve and a 60x burst both
    read; requests per second on the right."""
    s, t = data.series, data.times
    _shade_phases(top, data, label=True)
    top.plot(t, s["arrivals"], color=STYLES[0][0], lw=1.2, label="sessions started / min")
    top.set_ylabel("sessions started / min (log)")
    top.set_yscale("log")
    positive = s["arrivals"][s["arrivals"] > 0]
    if len(positive):
        top.set_ylim(max(np.nanmin(positive) / 2, 0.5), np.nanmax(positive) * 4)
    rate = top.twinx()
    rate.plot(t, s["requests"] / 60, color=STYLES[1][0], ls="--", lw=1,
              label="requests / s (right axis, log)")
    rate.set_ylabel("requests / s (log)")
    rate.set_yscale("log")
    requests = s["requests"][s["requests"] > 0] / 60
    if len(requests):
        rate.set_ylim(max(np.nanmin(requests) / 2, 0.01), np.nanmax(requests) * 4)
    _mark_flash_sales(top, data)
    handles = top.get_legend_handles_labels()
    extra = rate.get_legend_handles_labels()
    top.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower left", fontsize=8)
    _clock_axis(top, data)


def _capacity_panel(ax, data: ReportData) -> None:
    """Utilization (with its confidence band) and instances serving over the whole run."""
    s, t = data.series, data.times
    if "utilization_lo" in s:
        ax.fill_between(t, s["utilization_lo"] * 100, s["utilization_hi"] * 100,
                        color=STYLES[2][0], alpha=0.3, lw=0,
                        label=f"{confidence_level(data.summary)} band")
    ax.plot(t, s["utilization"] * 100, color=STYLES[2][0], lw=1.2, label="utilization %")
    ax.set_ylabel("utilization (%)")
    ax.set_ylim(0, 105)
    right = ax.twinx()
    right.step(t, s["instances"], where="post", color=STYLES[3][0], ls=":", lw=1.5,
               label="instances serving (minute mean)")
    right.set_ylabel("instances")
    right.set_ylim(0, max(1, np.nanmax(s["instances"]) * 1.2))
    lines = ax.get_legend_handles_labels()
    extra = right.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], loc="upper left", fontsize=7)


def _zoom(ax, data: ReportData, name: str, start: datetime, end: datetime) -> None:
    """One burst at minute resolution: sessions per minute (bars) and utilization (line)."""
    t = data.times
    stamps = np.array([x.timestamp() for x in t])
    lo, hi = np.searchsorted(stamps, [start.timestamp(), end.timestamp()])
    times, arrivals = t[lo:hi], data.series["arrivals"][lo:hi]
    ax.bar(times, arrivals, width=timedelta(seconds=50), align="edge", color=STYLES[0][0],
           alpha=0.45, label="sessions / min")
    ax.set_ylabel("sessions / min", fontsize=8)
    ax.set_ylim(0, max(1.0, float(np.nanmax(arrivals)) * 1.2) if len(arrivals) else 1.0)
    util = ax.twinx()
    if "utilization_lo" in data.series:
        util.fill_between(times, data.series["utilization_lo"][lo:hi] * 100,
                          data.series["utilization_hi"][lo:hi] * 100, color=STYLES[2][0],
                          alpha=0.3, lw=0)
    util.plot(times, data.series["utilization"][lo:hi] * 100, color=STYLES[2][0], lw=1.4,
              label="utilization %")
    util.set_ylim(0, 105)
    util.set_ylabel("utilization (%)", fontsize=8)
    peak, at = _peak(arrivals, times)
    most = float(np.nanmax(data.series["instances"][lo:hi])) if hi > lo else 0.0
    ax.set_title(f"{name}: {peak:,.0f} sessions/min at {at}, up to {most:.0f} instances",
                 fontsize=9, loc="left")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=t[0].tzinfo))
    ax.xaxis.set_major_locator(mdates.MinuteLocator(byminute=range(0, 60, 10)))
    ax.tick_params(labelsize=8)
    util.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()
    extra = util.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper right", fontsize=7)


def traffic(data: ReportData) -> Figure:
    s, t = data.series, data.times
    zooms = _sale_windows(data)
    with plt.rc_context({"font.family": font_family()}):
        fig = plt.figure(figsize=(11, 7.2 + (3.0 if zooms else 0)), dpi=110)
        try:
            grid = fig.add_gridspec(3 if zooms else 2, max(1, len(zooms)),
                                    height_ratios=[1, 1, 0.95] if zooms else [1, 1])
            top = fig.add_subplot(grid[0, :])
            bottom = fig.add_subplot(grid[1, :], sharex=top)
            _load_panel(top, data)
            _shade_phases(bottom, data, label=False)
            _capacity_panel(bottom, data)
            _clock_axis(bottom, data)
            for i, (name, start, end) in enumerate(zooms):
                _zoom(fig.add_subplot(grid[2, i]), data, name, start, end)
            util = s["utilization"] * 100
            peak, at = _peak(s["arrivals"], t)
            upeak, uat = _peak(util, t)
            serving = s["instances"][int(np.nanargmax(util))] if len(util) else 0
            title = (f"Peak {peak:,.0f} sessions/min at {at}; utilization peaked at "
                     f"{upeak:.0f}% at {uat} with {serving:.0f} instances serving")
            return finish(fig, top, "traffic", title)
        finally:
            plt.close(fig)


def _hour_edges(data: ReportData, hourly: list[dict]) -> list[datetime]:
    clock = data.scenario.clock
    first = clock.local(0).replace(minute=0, second=0)
    edges = [first + timedelta(hours=i) for i in range(len(hourly) + 1)]
    skipped = int(clock.warmup // 3600)
    return [e + timedelta(hours=skipped) for e in edges]


def latency(data: ReportData) -> Figure:
    """Hourly p99 per endpoint (the SLO's own unit) as steps with their confidence bands; per-minute
    lines of six endpoints overplot into noise."""
    hourly = data.summary.get("hourly", [])
    limits = data.scenario.slo.latency_p99 if data.scenario.slo else {}
    breaches = [b for b in data.summary["slo"].get("breaches", [])
                if b["metric"] == "latency_p99"]
    edges = _hour_edges(data, hourly)
    drawn_means = [_value(f) for h in hourly for f in h["p99_ms"].values()]
    positive = [m for m in drawn_means if m]
    floor = min(positive, default=1.0) / 2
    with canvas(1, 4.2) as (fig, (ax,)):
        drawn = 0
        for endpoint in ENDPOINTS:
            figures = [h["p99_ms"].get(endpoint) for h in hourly]
            if not any(f is not None for f in figures):
                continue
            colour, dash = STYLES[drawn % len(STYLES)]
            means = [_value(f) if f is not None else np.nan for f in figures]
            ax.stairs(means, edges, color=colour, ls=dash, lw=1.6, label=f"{endpoint} p99",
                      baseline=None)
            if any(isinstance(f, dict) for f in figures):
                low = [max(f["ci95"][0], floor) if isinstance(f, dict) else np.nan
                       for f in figures]
                high = [f["ci95"][1] if isinstance(f, dict) else np.nan for f in figures]
                ax.stairs(high, edges, baseline=low, fill=True, color=colour, alpha=0.18,
                          lw=0)
            drawn += 1
        by_limit: dict[float, list[str]] = {}
        for endpoint in ENDPOINTS:
            limit = limits.get(endpoint, limits.get("default"))
            if limit is not None and f"p99_ms_{endpoint}" in data.series:
                by_limit.setdefault(limit, []).append(endpoint)
        for i, (limit, names) in enumerate(sorted(by_limit.items())):
            ax.axhline(limit * 1000, color="#922b21", ls=(0, (4, 2)), lw=0.9)
            ax.text(edges[-1], limit * 1000, f"SLO {limit * 1000:,.0f} ms: {', '.join(names)} ",
                    fontsize=7, color="#922b21", ha="right",
                    va="top" if i % 2 == 0 and len(by_limit) > 1 else "bottom")
        ax.set_yscale("log")
        top = max([*positive, *(limit * 1000 for limit in by_limit)], default=10.0)
        ax.set_ylim(floor, top * 2.5)
        ax.set_ylabel("p99 latency per hour (ms, log scale)")
        ax.legend(loc="upper left", fontsize=8, ncol=3)
        _clock_axis(ax, data)
        if breaches:
            worst = max(breaches, key=lambda b: b["worst"] / b["limit"])
            hours = len({v["from"] for v in data.summary["slo"]["violations"]
                         if v["metric"] == "latency_p99"})
            title = (f"p99 latency broke its SLO in {hours} hour(s); worst: "
                     f"{worst['worst_endpoint']} {worst['worst']:,.0f} ms vs "
                     f"{worst['limit']:,.0f} ms at {worst['worst_at']}")
        elif limits:
            title = "Every endpoint's p99 stayed within its SLO in every hour"
        else:
            title = "p99 latency per endpoint and hour (no latency SLO in the scenario)"
        return finish(fig, ax, "latency", title)


def errors(data: ReportData) -> Figure:
    s, t = data.series, data.times
    with canvas(1, 3.2) as (fig, (ax,)):
        rate = np.divide(s["errors"], s["requests"], out=np.zeros_like(s["errors"]),
                         where=s["requests"] > 0) * 100
        ax.fill_between(t, 0, s["shed"], color=STYLES[1][0], alpha=0.6, step="post",
                        label="shed (503)")
        ax.fill_between(t, s["shed"], s["shed"] + s["timeouts"], color=STYLES[4][0],
                        alpha=0.6, step="post", label="client timeouts", hatch="//")
        ax.set_ylabel("failed requests / min")
        ax.legend(loc="upper left", fontsize=8)
        _mark_flash_sales(ax, data)
        _clock_axis(ax, data)
        worst, at = _peak(rate, t)
        total = data.summary["error_rate"]
        total = total["mean"] if isinstance(total, dict) else total
        title = ("No request failed all day" if worst == 0 else
                 f"{total:.2%} of requests failed; worst minute {at} lost {worst:.1f}%")
        return finish(fig, ax, "errors", title)


def stock(data: ReportData) -> Figure | None:
    s, t = data.series, data.times
    skus = [c.removeprefix("stock_") for c in s if c.startswith("stock_")]
    if not skus:
        return None
    inventory = data.summary.get("inventory", {})
    with canvas(1, 3.6) as (fig, (ax,)):
        sold_out = []
        for i, sku in enumerate(skus):
            colour, dash = STYLES[i % len(STYLES)]
            initial = _value(inventory.get(sku, {}).get("initial")) or 1
            ax.plot(t, s[f"stock_{sku}"] / initial * 100, color=colour, ls=dash, lw=1.4,
                    label=drawable(sku, "SKU"))
            when = inventory.get(sku, {}).get("sold_out_at")
            if when:
                sold_out.append(f"{drawable(sku, 'SKU')} at {when}")
        _mark_flash_sales(ax, data)
        ax.set_ylabel("available (% of initial stock)")
        ax.set_ylim(-3, 105)
        ax.legend(loc="lower left", fontsize=8)
        _clock_axis(ax, data)
        title = ("Sold out: " + ", ".join(sold_out)) if sold_out else \
            "No SKU sold out"
        return finish(fig, ax, "stock", title)


def payments(data: ReportData) -> Figure | None:
    s, t = data.series, data.times
    spec = data.scenario.payments
    if spec is None or "payment_failures" not in s:
        return None
    clock = data.scenario.clock
    with canvas(1, 3.2) as (fig, (ax,)):
        for outage in spec.outages:
            opens, closes = clock.window(outage.from_, outage.to)
            ax.axvspan(clock.local(opens), clock.local(min(closes, clock.duration)),
                       color="#f5b7b1", alpha=0.6, zorder=0)
            ax.text(clock.local(opens), 0.95, f" {drawable(outage.channel, '')} outage "
                    f"({outage.failure_rate:.0%} fail)", transform=ax.get_xaxis_transform(),
                    fontsize=8, va="top")
        ax.plot(t, s["payment_failures"], color=STYLES[0][0], lw=1.2,
                label="failed payment attempts / min")
        ax.set_ylabel("failed attempts / min")
        ax.legend(loc="upper left", fontsize=8)
        _clock_axis(ax, data)
        summary = data.summary.get("payments") or {}
        rate = _value(summary.get("success_rate"))
        lost = _value(summary.get("lost_orders"))
        title = (f"Payments succeeded {rate:.1%} of attempts; {lost:,.0f} orders lost to "
                 "failed payments" if rate is not None and lost is not None else
                 "Payment failures per minute")
        return finish(fig, ax, "payments", title)


def support(data: ReportData) -> Figure | None:
    section = data.summary.get("support")
    if not section:
        return None
    intervals = section["intervals"]
    clock = data.scenario.clock
    per = data.scenario.sizing.agents.per
    starts = [clock.local(i * per) for i in range(len(intervals))]
    width = timedelta(seconds=per * 0.8)
    target = data.scenario.slo.support if data.scenario.slo and data.scenario.slo.support \
        else None
    with canvas(2, 3.2) as (fig, (top, bottom)):
        answered = np.array([i["answered"] or 0 for i in intervals])
        abandoned = np.array([i["abandoned"] or 0 for i in intervals])
        deflected = np.array([i["deflected"] or 0 for i in intervals])
        top.bar(starts, answered, width=width, align="edge", color=STYLES[0][0],
                label="answered")
        top.bar(starts, abandoned, width=width, align="edge", bottom=answered,
                color=STYLES[1][0], hatch="xx", label="abandoned")
        top.bar(starts, deflected, width=width, align="edge", bottom=answered + abandoned,
                color="#d5dbdb", hatch="..", label="resolved by the bot")
        top.set_ylabel(f"contacts per {per / 60:.0f} min")
        right = top.twinx()
        right.step([*starts, clock.local(len(intervals) * per)],
                   [*(i["agents"] for i in intervals), intervals[-1]["agents"]],
                   where="post", color=STYLES[3][0], ls=":", lw=1.5, label="agents on shift")
        right.set_ylabel("agents")
        right.set_ylim(0, max(i["agents"] for i in intervals) * 1.2 + 1)
        handles = top.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        top.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8, loc="upper left")
        _clock_axis(top, data)
        level = [np.nan if i["service_level"] is None else i["service_level"] * 100
                 for i in intervals]
        bottom.plot([s + width / 2 for s in starts], level, color=STYLES[2][0], marker="o",
                    ms=3, lw=1.2, label="service level")
        if target is not None:
            bottom.axhline(target.service_level * 100, color="#c0392b", ls="--", lw=1,
                           label=f"target {target.service_level:.0%} within "
                                 f"{target.answer_within:g} s")
        bottom.set_ylabel("answered in time (%)")
        bottom.set_ylim(0, 105)
        bottom.legend(fontsize=8, loc="lower left")
        _clock_axis(bottom, data)
        misses = [i for i in intervals if target is not None and i["offered"]
                  and i["service_level"] is not None
                  and i["service_level"] < target.service_level]
        if target is None:
            title = "Customer service per interval"
        elif misses:
            worst = min(misses, key=lambda i: i["service_level"])
            title = (f"Service level under {target.service_level:.0%} in {len(misses)} of "
                     f"{len(intervals)} intervals; worst {worst['from']}–{worst['to']}: "
                     f"{worst['service_level']:.0%} with {worst['agents']} agents")
        else:
            title = f"Service level met {target.service_level:.0%} in every interval"
        return finish(fig, top, "support", title)


def _value(figure: float | dict | None) -> float | None:
    if isinstance(figure, dict):
        return figure.get("mean")
    if figure is None or (isinstance(figure, float) and math.isnan(figure)):
        return None
    return float(figure)


def all_figures(data: ReportData) -> list[Figure]:
    made = [traffic(data), latency(data), errors(data), stock(data), payments(data),
            support(data)]
    return [f for f in made if f is not None]
