"""Random streams: one independent generator per source, drawn in batches.

Each replication gets its own ``SeedSequence`` child, and each source of randomness (arrivals,
journeys, service, payments, support, inventory, ...) its own generator spawned from it. Two plans
run with one seed therefore see the same shoppers (common random numbers), and adding a draw in
one module does not shift the numbers of another.

Drawing one number at a time from numpy costs about a microsecond; :func:`pool` draws 4,096 at
once and hands them out from a Python list, which is what lets the model run whole days fast.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from itertools import chain, repeat

import numpy as np

from ..scenario.distributions import Distribution

SOURCES = ("arrivals", "journeys", "service", "payments", "support", "inventory", "flash_sales",
           "shoppers")
"""``journeys`` and ``flash_sales`` feed only the plans of sim.behaviour (the drill draws them
alike); think times and coupon takes, drawn as sessions go, have ``shoppers``."""
BATCH = 4096


def spawn_streams(seed_sequence: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One generator per source of randomness, in a fixed order.

    The children are spawned from a copy: ``SeedSequence.spawn`` advances the sequence it is
    called on, so a seed simulated twice in one process (a sizing search's common random
    numbers on the inline executor) would otherwise get other streams the second time.
    """
    fresh = np.random.SeedSequence(seed_sequence.entropy, spawn_key=seed_sequence.spawn_key,
                                   pool_size=seed_sequence.pool_size)
    children = fresh.spawn(len(SOURCES))
    return {name: np.random.default_rng(child) for name, child in zip(SOURCES, children,
                                                                       strict=True)}


Draw = Callable[[], float]
"""Call it for the next value of a stream."""


def pool(dist: Distribution, rng: np.random.Generator) -> Draw:
    """Draws of ``dist``, ``BATCH`` at a time, handed out one per call.

    The call is C all the way (``partial`` -> ``next`` -> ``chain`` over the batch's list);
    Python code runs only once per batch, to draw the next one. The values, and the order the
    generator is consumed in, are those of drawing batch after batch as they run out.
    """
    batches = map(_sample, repeat((dist, rng)))
    return partial(next, chain.from_iterable(batches))


def _sample(source: tuple[Distribution, np.random.Generator]) -> list[float]:
    dist, rng = source
    return dist.sample(rng, BATCH).tolist()


def uniforms(rng: np.random.Generator) -> Draw:
    """Uniform [0, 1) draws for yes/no decisions (funnel steps, failures)."""
    return pool(_UNIFORM, rng)


class _Unit(Distribution):
    kind = None  # type: ignore[assignment]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.random(size)

    @property
    def mean(self) -> float:
        return 0.5


_UNIFORM = _Unit()
