"""The arrival curve: piecewise-linear sessions per minute -> exact non-homogeneous Poisson times.

Shared by the simulator and the drill's schedule, so both replay the very same sessions for a
seed. Arrivals are drawn by time-rescaling: uniform points in cumulative-rate space, mapped back
through the inverse of the integrated rate (a quadratic per linear piece). No per-minute
constant approximation: a spike that rises over ten seconds arrives over ten seconds.

The curve is given at clock times of day. Before its first point the rate is the first
point's, after its last point the last point's, and the pattern repeats every day.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .scenario.schema import Clock
from .scenario.units import DAY

CHUNK = 32768
"""Arrivals drawn at once, in expectation: a chunk spans as much time as that takes, an hour
at a few hundred sessions a minute, 20 ms at 10^8 a minute. Memory stays flat however long
the run and however high the rate."""


class RateCurve:
    """Session arrival rate (per second) over simulated time, with its exact integral."""

    def __init__(self, points: dict[float, float], clock: Clock):
        """``points`` maps clock time of day -> sessions per minute."""
        by_offset = sorted((clock.offset(tod) % DAY, per_min / 60.0)
                           for tod, per_min in points.items())
        xs = [0.0] + [x for x, _ in by_offset] + [DAY]
        ys = [by_offset[0][1]] + [y for _, y in by_offset] + [by_offset[-1][1]]
        self.knots = np.asarray(xs)
        """Seconds into the (simulated) day where the rate changes slope."""
        self.rates = np.asarray(ys)
        """Rate per second at each knot."""
        widths = np.diff(self.knots)
        self.cumulative = np.concatenate([[0.0], np.cumsum(widths * (self.rates[:-1]
                                                                     + self.rates[1:]) / 2)])
        """Expected arrivals from the start of the day to each knot."""
        self.per_day = float(self.cumulative[-1])

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        """Arrivals per second at simulated time(s) ``t``."""
        return np.interp(np.asarray(t, dtype=float) % DAY, self.knots, self.rates)

    def integral(self, t: np.ndarray | float) -> np.ndarray:
        """Expected arrivals in [0, t): the cumulative rate Lambda(t)."""
        t = np.asarray(t, dtype=float)
        days, into = np.divmod(t, DAY)
        k = np.clip(np.searchsorted(self.knots, into, side="right") - 1, 0, len(self.knots) - 2)
        tau = into - self.knots[k]
        slope = (self.rates[k + 1] - self.rates[k]) / (self.knots[k + 1] - self.knots[k])
        return days * self.per_day + self.cumulative[k] + self.rates[k] * tau + slope * tau**2 / 2

    def inverse(self, u: np.ndarray) -> np.ndarray:
        """Times at which Lambda reaches ``u`` (vectorised; u sorted or not)."""
        days, rem = np.divmod(u, self.per_day)
        k = np.clip(np.searchsorted(self.cumulative, rem, side="right") - 1,
                    0, len(self.knots) - 2)
        a = self.rates[k]
        slope = (self.rates[k + 1] - a) / (self.knots[k + 1] - self.knots[k])
        need = rem - self.cumulative[k]
        # a*tau + slope*tau^2/2 = need, in the form that is stable for slope -> 0.
        tau = 2 * need / (a + np.sqrt(np.maximum(a * a + 2 * slope * need, 0.0)))
        return days * DAY + self.knots[k] + tau

    def arrivals(self, start: float, end: float, rng: np.random.Generator) -> np.ndarray:
        """Sorted arrival times of the Poisson process in [start, end)."""
        low, high = self.integral(np.array([start, end]))
        count = rng.poisson(high - low) if high > low else 0
        if count == 0:
            return np.empty(0)
        times = self.inverse(np.sort(rng.uniform(low, high, count)))
        return np.clip(times, start, np.nextafter(end, start))

    def chunks(self, start: float, end: float, rng: np.random.Generator,
               expected: float = CHUNK) -> Iterator[np.ndarray]:
        """The arrivals of [start, end) in time order, ``expected`` arrivals per chunk on
        average: consecutive windows whose integrated rate is ``expected`` each (the last one
        less), drawn one after another as they are asked for."""
        if self.per_day <= 0:
            return
        while start < end:
            stop = min(end, float(self.inverse(self.integral(start) + expected)))
            if stop <= start:  # below float resolution this far into the run: a second at most
                stop = min(end, start + 1.0)
            yield self.arrivals(start, stop, rng)
            start = stop
