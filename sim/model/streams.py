"""Random streams: one independent generator per source, drawn in batches.

Each replication gets its own ``SeedSequence`` child, and each source of randomness (arrivals,
journeys, service, payments, support, inventory, ...) its own generator spawned from it. Two plans
run with one seed therefore see the same shoppers (common random numbers), and adding a draw in
one module does not shift the numbers of another.

Drawing one number at a time from numpy costs about a microsecond; :class:`Pool` draws 4,096 at
once and hands them out from a Python list, which is what lets the model run whole days fast.
"""

from __future__ import annotations

import numpy as np

from ..scenario.distributions import Distribution

SOURCES = ("arrivals", "journeys", "service", "payments", "support", "inventory", "flash_sales",
           "shoppers")
"""``journeys`` and ``flash_sales`` feed only the plans of sim.behaviour (the drill draws them
alike); think times and coupon takes, drawn as sessions go, have ``shoppers``."""
BATCH = 4096


def spawn_streams(seed_sequence: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One generator per source of randomness, in a fixed order."""
    children = seed_sequence.spawn(len(SOURCES))
    return {name: np.random.default_rng(child) for name, child in zip(SOURCES, children,
                                                                       strict=True)}


class Pool:
    """Draws of one distribution, ``BATCH`` at a time; call it for the next value."""

    __slots__ = ("_dist", "_index", "_rng", "_values")

    def __init__(self, dist: Distribution, rng: np.random.Generator):
        self._dist = dist
        self._rng = rng
        self._values: list[float] = []
        self._index = 0

    def __call__(self) -> float:
        index = self._index
        if index == len(self._values):
            self._values = self._dist.sample(self._rng, BATCH).tolist()
            index = 0
        self._index = index + 1
        return self._values[index]


class Uniforms(Pool):
    """Uniform [0, 1) draws for yes/no decisions (funnel steps, failures)."""

    __slots__ = ()

    def __init__(self, rng: np.random.Generator):
        super().__init__(_UNIFORM, rng)


class _Unit(Distribution):
    kind = None  # type: ignore[assignment]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.random(size)

    @property
    def mean(self) -> float:
        return 0.5


_UNIFORM = _Unit()
