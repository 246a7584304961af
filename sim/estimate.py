"""What a run will cost, from the scenario alone, and the limit a run must stay under.

Before ``simulate`` starts, :func:`estimate` reads the scenario (no simulation) and says how
many sessions and requests the day holds, how long the run takes and how much memory it needs
at its peak. The figures are shown with the progress bars; :func:`over_limits` refuses a run
that would exhaust the machine (peak memory over what is available now) or that no planner
means to run (over :data:`MAX_REQUESTS` requests) — typically a typo in a rate or a duration
that would otherwise run for hours and end with the machine swapping or a MemoryError.

The arithmetic:

- sessions = the integral of the arrival curve over the run (``sim.traffic``, exact) plus the
  flash-sale audiences;
- requests = sessions x the expected requests of a visit: 1 (home) + mean product views +
  P(cart) x (1 + P(checkout) x (1 + P(pay))), weighted by segment share; a flash-sale buyer
  makes at most 4 (product, cart, checkout, pay). Retries and support tickets are left out
  (a few percent on the shipped scenarios);
- CPU seconds = ``START_S`` + ``SECONDS_PER_REQUEST`` x requests + ``SECONDS_PER_MINUTE`` x
  simulated minutes (per-minute bookkeeping, series and report rows), per replication;
- peak memory = ``BASE_BYTES`` (interpreter, numpy, SimPy, matplotlib) + ``BYTES_PER_PENDING``
  x the arrivals drawn ahead (the busiest hour of the curve plus the flash-sale audiences,
  which the model schedules before they arrive) + ``BYTES_PER_MINUTE`` x simulated minutes
  (the per-minute series and hourly histograms kept for the report).

How the constants were calibrated (``python benchmarks/estimate_constants.py`` measures and
solves them): ``peakday simulate --quiet`` in a fresh child process, timed by its user +
system CPU time and measured by its peak resident memory (``os.wait4`` rusage), on three runs
that separate the terms — scenarios/small-shop.yaml's day (158,000 requests estimated: 5.2 CPU
s, 180 MiB), scenarios/double11.yaml's day (14.0 M requests, 350,000 pending: 132 CPU s, 222
MiB) and small-shop over 60 days at 1% of its rates (95,000 requests, 86,400 minutes: 32.8 CPU
s, 525 MiB). Three runs, three unknowns per line, solved exactly. Measured on 2026-11-25 on
the 2-core development machine while six other jobs shared it: CPU time was about twice what
the same double11 day takes alone (57 s, README), so the time estimate errs long on a quiet
machine. Re-run the script after a change to the engine (memory per minute, arrivals drawn
ahead) and copy its figures here. The estimate is a planning figure, not a promise; the limit
rule needs it to be right within a factor of two, not to the second.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import pairwise

from .report.formatting import fmt
from .scenario.schema import Scenario
from .scenario.units import DAY
from .traffic import RateCurve

START_S = 3.3
SECONDS_PER_REQUEST = 9.1e-6
SECONDS_PER_MINUTE = 3.3e-4
BASE_BYTES = 182e6
BYTES_PER_PENDING = 127.0
BYTES_PER_MINUTE = 4.3e3

MAX_REQUESTS = 1e9
"""No run simulates more requests than this without ``--no-limit`` (a day of the largest
shipped scenario has 14 million)."""

FLASH_BUYER_REQUESTS = 4
"""A flash-sale buyer goes straight to the deal: product, cart, checkout, pay."""
HOUR = 3600.0


@dataclass(frozen=True)
class Estimate:
    """What a run will cost; floats, because a mistyped scenario can ask for 10^30 of them."""

    sessions: float
    requests: float
    cpu_seconds: float
    """For the whole run (all replications), on one idle core of the calibration machine."""
    wall_seconds: float
    """CPU seconds spread over the processes that run replications side by side."""
    peak_bytes: float
    """Peak resident memory of all processes of the run together."""

    def describe(self) -> str:
        """One line for people: ``about 3.0 M sessions, 14 M requests, 1 min, 310 MiB``."""
        return (f"about {_count(self.sessions)} sessions, {_count(self.requests)} requests, "
                f"{_duration(self.wall_seconds)}, {_bytes(self.peak_bytes)} peak memory")


def requests_per_visit(scenario: Scenario) -> float:
    """Expected requests of one shopper's visit from the traffic curve (no retries)."""
    total = 0.0
    for segment in scenario.customers.segments.values():
        funnel = segment.funnel
        buys = funnel.cart * (1 + funnel.checkout * (1 + funnel.pay))
        total += segment.share * (1 + segment.product_views.mean + buys)
    return total


@dataclass(frozen=True)
class Load:
    """What one replication's cost grows with (the quantities the constants multiply)."""

    sessions: float
    requests: float
    pending: float
    """Arrivals drawn ahead at once: the busiest hour of the curve plus flash-sale audiences."""
    minutes: float


def load_of(scenario: Scenario) -> Load:
    duration = scenario.clock.duration
    curve = RateCurve(scenario.traffic.sessions_per_min, scenario.clock)
    visits = float(curve.integral(duration))
    sales = scenario.promotions.flash_sales if scenario.promotions else []
    audience = float(sum(sale.audience for sale in sales))
    return Load(sessions=visits + audience,
                requests=visits * requests_per_visit(scenario) + audience * FLASH_BUYER_REQUESTS,
                pending=_busiest_hour(curve, duration) + audience,
                minutes=duration / 60.0)


def estimate(scenario: Scenario, replications: int = 1, jobs: int = 1,
             cores: int | None = None) -> Estimate:
    """The cost of ``replications`` runs of ``scenario`` on ``jobs`` processes sharing
    ``cores`` (default: this machine's): rounds of ``jobs`` replications, each round as long
    as its replications' CPU time spread over the cores it can use."""
    load = load_of(scenario)
    cpu_one = START_S + SECONDS_PER_REQUEST * load.requests + SECONDS_PER_MINUTE * load.minutes
    series = BYTES_PER_MINUTE * load.minutes
    one = BASE_BYTES + BYTES_PER_PENDING * load.pending + series
    workers = max(1, min(jobs, replications))
    if workers == 1:
        peak = one + series * (replications - 1)
    else:  # a parent holding every replication's series, and the workers
        peak = BASE_BYTES + series * replications + workers * one
    return Estimate(sessions=load.sessions * replications,
                    requests=load.requests * replications,
                    cpu_seconds=cpu_one * replications,
                    wall_seconds=cpu_one * _round_lengths(replications, workers,
                                                          cores or os.cpu_count() or 1),
                    peak_bytes=peak)


def _round_lengths(units: int, workers: int, cores: int) -> float:
    """Day-lengths ``units`` equal units take on ``workers`` processes and ``cores`` cores."""
    full, last = divmod(units, workers)
    rounds = [workers] * full + ([last] if last else [])
    return sum(max(1.0, n / cores) for n in rounds)


def _busiest_hour(curve: RateCurve, duration: float) -> float:
    """Expected arrivals in the busiest whole hour of the run (the curve repeats daily)."""
    ends = [min(h * HOUR, duration) for h in range(int(min(duration, DAY) // HOUR) + 2)]
    return max(float(curve.integral(b) - curve.integral(a)) for a, b in pairwise(ends))


def available_memory() -> float | None:
    """Bytes of memory the system can give a new process now (MemAvailable), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def over_limits(cost: Estimate, memory: float | None = None) -> list[str]:
    """Why a run must not start without ``--no-limit`` (empty when it may)."""
    memory = available_memory() if memory is None else memory
    reasons = []
    if cost.requests > MAX_REQUESTS:
        reasons.append(f"over {_count(MAX_REQUESTS)} requests")
    if memory is not None and cost.peak_bytes > memory:
        reasons.append(f"more memory than the {_bytes(memory)} available")
    return reasons


def _count(value: float) -> str:
    for size, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M")):
        if value >= size:
            return _amount(value / size) + suffix
    return fmt(round(value))


def _duration(seconds: float) -> str:
    for size, unit in ((365 * DAY, " years"), (DAY, " days"), (HOUR, " h"), (60.0, " min")):
        if seconds >= size:
            return _amount(seconds / size) + unit
    return f"{seconds:.0f} s"


def _bytes(value: float) -> str:
    for size, unit in ((2.0**40, " TiB"), (2.0**30, " GiB")):
        if value >= size:
            return _amount(value / size) + unit
    return f"{value / 2**20:.0f} MiB"


def _amount(value: float) -> str:
    """``3.0``, ``14``, ``2,500``; ``1.2e+21`` past what a word can hold."""
    if value >= 1e6:
        return f"{value:.1e}"
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"
