"""What a write costs the reference checkout's store as its tables grow, with the keys it makes
(time-ordered, ``store.new_id``) against random ones (``uuid4``), measured in the same run.

A cart and its order per shopper, through the service's own :class:`Store` on a fresh SQLite
file (WAL, as served) with a SKU that never sells out; the microseconds per cart-and-order
are printed per block of BLOCK shoppers, so the last block is the cost at ~ROWS rows. With
random keys each insert lands anywhere in its table's B-tree and the cost grows with the
table; with time-ordered keys it should not (README, "The reference checkout service").

    python benchmarks/row_keys.py [--rows 120000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from loadtests.target import store as store_module
from loadtests.target.store import SkuSeed, SQLite, Store

BLOCK = 10_000


def costs(rows: int) -> list[float]:
    """Microseconds per cart-and-order, per block of BLOCK shoppers."""
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(SQLite(Path(scratch) / "keys.db"))
        store.seed([SkuSeed("CALM", 10 * rows, 1.0, None)], shards=1, ttl=900.0)
        blocks = []
        for block in range(rows // BLOCK):
            started = time.perf_counter()
            for n in range(block * BLOCK, (block + 1) * BLOCK):
                shopper = f"s{n}"
                cart = store.add_cart(shopper, "CALM", 1)
                store.reserve(shopper, store.cart_items(shopper, cart))
            blocks.append((time.perf_counter() - started) / BLOCK * 1e6)
        store.close_all()
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=120_000)
    args = parser.parse_args()
    ordered = costs(args.rows)
    made_by = store_module.new_id
    store_module.new_id = lambda: uuid.uuid4().hex  # the baseline: the keys it made before
    try:
        random_keys = costs(args.rows)
    finally:
        store_module.new_id = made_by
    print(f"µs per cart and order, per {BLOCK:,} shoppers (rows in each table at the block's end)")
    print("   rows   time-ordered  uuid4   uuid4 / time-ordered")
    for i, (a, b) in enumerate(zip(ordered, random_keys, strict=True)):
        print(f"{(i + 1) * BLOCK:7,d}   {a:10.1f}  {b:7.1f}   {b / a:5.2f}")
    print(f"last block against first: time-ordered x{ordered[-1] / ordered[0]:.2f}, "
          f"uuid4 x{random_keys[-1] / random_keys[0]:.2f}")


if __name__ == "__main__":
    main()
