"""Orders per second the reference checkout sustains on one hot SKU, per inventory strategy.

Starts `peakday serve` (one uvicorn worker) on a free loopback port with the flash-sale
scenario's hot SKU made big enough never to sell out, then fires reservations at it from
concurrent asyncio clients for a fixed time, once per strategy (and database). Prints
orders/s and latency percentiles; the row_lock figure is the baseline of the ratios.

    python benchmarks/checkout_throughput.py [--seconds 10] [--clients 64]
    PEAKDAY_TEST_POSTGRES=postgresql://... python benchmarks/checkout_throughput.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from loadtests.target.launch import start_service

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "flash-sale.yaml"


async def hammer(url: str, seconds: float, clients: int) -> tuple[int, list[float]]:
    """Reserve one unit per request, each from a new shopper, for `seconds`."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    made = [0]
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def one(worker: int) -> None:
            n = 0
            while time.perf_counter() < stop:
                n += 1
                sent = time.perf_counter()
                reply = await client.post("/orders", json={"items": [{"sku": "H1", "qty": 1}]},
                                          headers={"X-Shopper-Id": f"b{worker}-{n}"})
                latencies.append(time.perf_counter() - sent)
                made[0] += reply.status_code == 201

        await asyncio.gather(*(one(i) for i in range(clients)))
    return made[0], latencies


def measure(db: str, strategy: str, seconds: float, clients: int, log: Path
            ) -> tuple[float, float, float]:
    service = start_service(db, SCENARIO, "--reset", "--set", f"inventory.strategy={strategy}",
                            "--set", "promotions.flash_sales.0.sku.stock=100000000", log=log)
    try:
        orders, latencies = asyncio.run(hammer(service.url, seconds, clients))
    finally:
        service.stop()
    cuts = statistics.quantiles(latencies, n=100)
    return orders / seconds, cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        databases = [("sqlite", f"sqlite:///{Path(scratch) / 'bench.db'}")]
        if os.environ.get("PEAKDAY_TEST_POSTGRES"):
            databases.append(("postgresql", os.environ["PEAKDAY_TEST_POSTGRES"]))
        for name, db in databases:
            baseline = None
            for strategy in ("row_lock", "sharded"):
                rate, p50, p99 = measure(db, strategy, args.seconds, args.clients,
                                         Path(scratch) / "serve.log")
                baseline = baseline or rate
                print(f"{name:10s} {strategy:9s} {rate:8,.0f} orders/s  p50 {p50:6.1f} ms  "
                      f"p99 {p99:7.1f} ms  ({rate / baseline:.2f}x row_lock)")


if __name__ == "__main__":
    main()
