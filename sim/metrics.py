"""Latency histograms and per-minute series, O(1) memory per request.

A request's latency is appended to a small per-minute buffer; at each simulated minute the
buffer is binned into a log-bucketed histogram (numpy, vectorised) and cleared. Percentiles
read from the histogram are within 1% of the exact value: buckets grow by 2% and report their
geometric middle. Memory depends on the number of endpoints, phases and minutes, never on the
number of requests.
"""

from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-6
"""Latencies below 1 microsecond share the first bucket (reported as 0)."""
RATIO = 1.02
"""Bucket growth factor: a bucket's middle is within sqrt(1.02) - 1 < 1% of any value in it."""
BUCKETS = math.ceil(math.log(1e4 / FLOOR) / math.log(RATIO)) + 1
"""Enough buckets for latencies up to 10,000 s; anything longer lands in the last one."""
_LOG_RATIO = math.log(RATIO)
_MIDDLES = FLOOR * RATIO ** (np.arange(BUCKETS) + 0.5)
_MIDDLES[0] = 0.0


def bucket_of(values: np.ndarray) -> np.ndarray:
    """Histogram bucket index of each latency (seconds)."""
    scaled = np.maximum(np.asarray(values, dtype=float), FLOOR) / FLOOR
    return np.minimum(np.log(scaled) / _LOG_RATIO, BUCKETS - 1).astype(np.int64)


class Histogram:
    """Counts per log bucket, plus the exact count and sum for the mean."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = np.zeros(BUCKETS, dtype=np.int64)
        self.total = 0.0

    def add_values(self, values: np.ndarray) -> None:
        if len(values):
            self.counts += np.bincount(bucket_of(values), minlength=BUCKETS)
            self.total += float(np.sum(values))

    def merge(self, other: Histogram) -> None:
        self.counts += other.counts
        self.total += other.total

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def mean(self) -> float:
        n = self.count
        return self.total / n if n else math.nan

    def quantile(self, q: float) -> float:
        """The q-quantile (0 < q <= 1) within 1% relative error; NaN when empty."""
        cumulative = np.cumsum(self.counts)
        n = cumulative[-1]
        if n == 0:
            return math.nan
        index = int(np.searchsorted(cumulative, q * n, side="left"))
        return float(_MIDDLES[min(index, BUCKETS - 1)])

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` latencies drawn as the histogram holds them (bucket middles): for adding an
        independent delay to every latency and reading the sum's percentiles."""
        n = self.count
        if n == 0:
            return np.zeros(0)
        return rng.choice(_MIDDLES, size=size, p=self.counts / n)

    def stats_ms(self) -> dict[str, float]:
        """mean/p50/p95/p99 in milliseconds, as the results contract spells them."""
        return {
            "mean": self.mean() * 1000,
            "p50": self.quantile(0.50) * 1000,
            "p95": self.quantile(0.95) * 1000,
            "p99": self.quantile(0.99) * 1000,
        }
