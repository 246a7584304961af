"""Cross-field checks: what no single field can know on its own.

Each check yields ``(path, message)`` so the error names the exact key that is wrong. They run
after the fields themselves validated (a check cannot reason about a share that is not a
number), and all of them run: a user fixes a file in one pass, not one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .schedule import values
from .schema import Scenario
from .units import DAY, format_clock, format_duration

Path = tuple[str | int, ...]
Problem = tuple[Path, str]

SHARE_TOLERANCE = 1e-6
_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /\S*$")


def check(scenario: Scenario) -> list[Problem]:
    """Every cross-field problem of a scenario, in file order as far as possible."""
    return [
        *_shares(scenario),
        *_clock_times(scenario),
        *_skus(scenario),
        *_payments(scenario),
        *_platform(scenario),
        *_promotions(scenario),
        *_sizing_and_drill(scenario),
        *_shifts(scenario),
    ]


def _shares(s: Scenario) -> Iterator[Problem]:
    total = sum(seg.share for seg in s.customers.segments.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        yield (("customers", "segments"),
               f"segment shares sum to {total:g} (they must sum to 1)")
    if s.payments is not None:
        total = sum(ch.share for ch in s.payments.channels.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            yield (("payments", "channels"),
                   f"channel shares sum to {total:g} (they must sum to 1)")


def _within_clock(s: Scenario, path: Path, time_of_day: float) -> Iterator[Problem]:
    """A clock time must fall inside the simulated window (any time does for a day or more)."""
    if s.clock.duration >= DAY:
        return
    if s.clock.offset(time_of_day) > s.clock.duration + 1e-9:
        start = s.clock.start_time_of_day
        end = (start + s.clock.duration) % DAY
        yield (path, f"{format_clock(time_of_day)} is outside the simulated clock "
                     f"(between {format_clock(start)} and {format_clock(end)})")


def _window(s: Scenario, path: Path, start: float, end: float,
            names: tuple[str | int, str | int]) -> Iterator[Problem]:
    yield from _within_clock(s, (*path, names[0]), start)
    yield from _within_clock(s, (*path, names[1]), end)
    if s.clock.offset(end) <= s.clock.offset(start) and not (end == DAY and start < DAY):
        yield ((*path, names[1]), f"ends at {format_clock(end)}, not after its start "
                                  f"{format_clock(start)} (an end later than the start)")


def _clock_times(s: Scenario) -> Iterator[Problem]:
    if s.clock.warmup >= s.clock.duration:
        yield (("clock", "warmup"), f"{format_duration(s.clock.warmup)} leaves nothing to "
                                    f"measure (shorter than duration "
                                    f"{format_duration(s.clock.duration)})")
    if s.traffic.history is None:  # a whole day's history may reach beyond a short run
        for key in s.traffic.sessions_per_min:
            yield from _within_clock(s, ("traffic", "sessions_per_min", format_clock(key)), key)
    for name, (start, end) in s.traffic.phases.items():
        yield from _window(s, ("traffic", "phases", name), start, end, (0, 1))
    if s.support is not None:
        for key in s.support.agents:
            yield from _within_clock(s, ("support", "agents", format_clock(key)), key)
        baseline = s.support.contacts.baseline_per_hour
        for key in baseline if isinstance(baseline, dict) else ():
            yield from _within_clock(s, ("support", "contacts", "baseline_per_hour",
                                         format_clock(key)), key)
    if s.drill.window is not None:
        yield from _window(s, ("drill", "window"), *s.drill.window, (0, 1))


def _skus(s: Scenario) -> Iterator[Problem]:
    seen: set[str] = set()
    if s.catalog is not None:
        for i, sku in enumerate(s.catalog.skus):
            if sku.id in seen:
                yield (("catalog", "skus", i, "id"), f"SKU {sku.id!r} is listed twice (unique ids)")
            seen.add(sku.id)
    if s.promotions is not None:
        for i, sale in enumerate(s.promotions.flash_sales):
            if sale.sku.id in seen:
                yield (("promotions", "flash_sales", i, "sku", "id"),
                       f"SKU {sale.sku.id!r} already exists (a flash sale brings its own SKU id)")
            seen.add(sale.sku.id)
    segments = s.customers.segments.values()
    views = any(not seg.product_views.is_zero or seg.funnel.cart > 0 for seg in segments)
    if views and s.catalog is None:
        yield (("catalog",), "missing: shoppers view products but there is no catalog "
                             "(a catalog with skus, or product_views: constant(0) and cart: 0)")


def _payments(s: Scenario) -> Iterator[Problem]:
    if s.payments is None:
        return
    for i, outage in enumerate(s.payments.outages):
        path = ("payments", "outages", i)
        if outage.channel not in s.payments.channels:
            known = ", ".join(s.payments.channels)
            yield ((*path, "channel"), f"unknown channel {outage.channel!r} (one of {known})")
        yield from _window(s, path, outage.from_, outage.to, ("from", "to"))
    retry = s.payments.retry
    if retry.switch_channel_after is not None and len(s.payments.channels) < 2:
        yield (("payments", "retry", "switch_channel_after"),
               "there is only one channel to switch to (two or more channels)")


def reachable_endpoints(s: Scenario) -> set[str]:
    """Endpoints some journey step can reach; only these need a service demand."""
    reachable = {"home"}
    flash = s.promotions is not None and bool(s.promotions.flash_sales)
    for seg in s.customers.segments.values():
        if not seg.product_views.is_zero or flash:
            reachable.add("product")
        if seg.funnel.cart > 0 or flash:
            reachable.add("cart")
            if seg.funnel.checkout > 0 or flash:
                reachable.add("checkout")
                if seg.funnel.pay > 0 or flash:
                    reachable.add("pay")
    if s.support is not None:
        reachable.add("support")
    return reachable


def _platform(s: Scenario) -> Iterator[Problem]:
    p = s.platform
    for endpoint in sorted(reachable_endpoints(s) - set(p.endpoints)):
        yield (("platform", "endpoints"),
               f"no service demand for {endpoint!r}, which journeys reach "
               f"(add {endpoint}: {{service: ...}})")
    auto = p.autoscaling
    for key, schedule in (("instances", p.instances), ("min", auto.min)):
        if isinstance(schedule, dict):
            path = ("platform", key) if key == "instances" else ("platform", "autoscaling", key)
            for tod in schedule:
                yield from _within_clock(s, (*path, format_clock(tod)), tod)
    if auto.enabled:
        if isinstance(p.instances, dict):
            yield (("platform", "instances"),
                   "a schedule of instances needs autoscaling off (with autoscaling on, "
                   "schedule autoscaling.min instead)")
        if max(values(auto.min)) > auto.max:
            yield (("platform", "autoscaling", "min"),
                   f"min {max(values(auto.min))} is above max {auto.max} (min <= max)")
        elif isinstance(p.instances, int) and not min(values(auto.min)) <= p.instances <= auto.max:
            yield (("platform", "instances"),
                   f"{p.instances} instances is outside autoscaling's "
                   f"[{min(values(auto.min))}, {auto.max}] (a start inside min..max)")
        if auto.target_utilization == 0:
            yield (("platform", "autoscaling", "target_utilization"),
                   "must be above 0 (a fraction like 0.65)")


def _promotions(s: Scenario) -> Iterator[Problem]:
    if s.promotions is None:
        return
    for i, sale in enumerate(s.promotions.flash_sales):
        yield from _window(s, ("promotions", "flash_sales", i), sale.start, sale.end,
                           ("start", "end"))
    for i, coupon in enumerate(s.promotions.coupons):
        path = ("promotions", "coupons", i)
        if coupon.kind == "threshold" and coupon.off <= 0:
            yield ((*path, "off"), "a threshold coupon needs an amount off (off: 40)")
        if coupon.kind == "threshold" and coupon.off > coupon.threshold:
            yield ((*path, "off"), f"{coupon.off:g} off is more than the threshold "
                                   f"{coupon.threshold:g} (off <= threshold)")
        if coupon.kind == "free_shipping" and coupon.off <= 0:
            yield ((*path, "off"), "a free_shipping coupon needs the shipping fee it absorbs "
                                   "per order (off: 12), or it costs nothing")
        if coupon.kind == "percent" and coupon.percent <= 0:
            yield ((*path, "percent"), "a percent coupon needs percent (percent: 10%)")


def _sizing_and_drill(s: Scenario) -> Iterator[Problem]:
    servers = s.sizing.servers
    if servers.min > servers.max:
        yield (("sizing", "servers", "min"), f"min {servers.min} is above max {servers.max} "
                                             "(min <= max)")
    if not 0 < s.sizing.confidence < 1:
        yield (("sizing", "confidence"), f"{s.sizing.confidence:g} gives no usable interval "
                                         "(between 0 and 1, e.g. 0.95: a 100% interval is "
                                         "unbounded, a 0% one a point)")
    for endpoint, route in s.drill.endpoints.items():
        if not _ROUTE.match(route):
            yield (("drill", "endpoints", endpoint),
                   f"cannot read {route!r} as a route (METHOD /path, e.g. POST /orders)")
    if s.drill.abort.for_ > s.drill.max_duration:
        yield (("drill", "abort", "for"),
               f"{format_duration(s.drill.abort.for_)} is longer than the drill's max_duration "
               f"(at most {format_duration(s.drill.max_duration)})")


def override_warnings(s: Scenario, overrides: Sequence[str]) -> list[str]:
    """Overrides that are valid but cannot do what they look like they do.

    Under autoscaling ``platform.instances`` is only the start: the autoscaler decides how many
    serve at the peak, within ``autoscaling.min``..``max``. A planner raising it to survive the
    peak changes nothing there, so say so (a warning: the run is still a valid run).
    """
    paths = {text.partition("=")[0].strip() for text in overrides}
    auto = s.platform.autoscaling
    if "platform.instances" in paths and auto.enabled:
        return [f"--set platform.instances only sets the start: autoscaling is on and decides "
                f"the instances at the peak (between min {auto.min} and max {auto.max}); to "
                "change capacity at the peak set platform.autoscaling.min/max, or "
                "platform.autoscaling.enabled=false"]
    return []


def _shifts(s: Scenario) -> Iterator[Problem]:
    """Shift lengths, starts and breaks fall on staffing-interval boundaries."""
    shifts, per = s.sizing.agents.shifts, s.sizing.agents.per
    if shifts is None:
        return
    path = ("sizing", "agents", "shifts")
    found: list[tuple[Path, float]] = [((*path, "lengths", i), length)
                                       for i, length in enumerate(shifts.lengths)]
    found.append(((*path, "every"), shifts.every))
    if shifts.break_ is not None:
        found += [((*path, "break", "after"), shifts.break_.after),
                  ((*path, "break", "length"), shifts.break_.length)]
    for where, seconds in found:
        if abs(seconds / per - round(seconds / per)) > 1e-9:
            yield (where, f"{format_duration(seconds)} is not a whole number of "
                          f"sizing.agents.per ({format_duration(per)})")
