"""Stock rules: how a SKU's units are split over shards, what must always hold, what oversold
means. The model's inventory (``sim/model/inventory.py``), the reference service's store
(``loadtests/target/store.py``) and the drill's server check (``loadtests/drill.py``) all use
these; scaling stock to a drill is :func:`sim.behaviour.scaling.scaled_stock`.
"""

from __future__ import annotations


def shard_split(stock: int, shards: int) -> list[int]:
    """Units per shard: as even as possible, the first ``stock % shards`` shards one more."""
    return [stock // shards + (1 if shard < stock % shards else 0) for shard in range(shards)]


def conserved(initial: int, available: int, reserved: int, sold: int) -> bool:
    """The stock invariant: every unit is available, reserved or sold, exactly once (and none
    is available below zero)."""
    return available >= 0 and available + reserved + sold == initial


def oversold(initial: int, reserved: int, sold: int) -> int:
    """Units promised beyond the stock (reserved or sold): the oversell SLO's figure."""
    return max(0, sold + reserved - initial)
