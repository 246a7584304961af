"""Prometheus text exposition of the service: requests, latency histogram, stock, orders.

Request counters, the latency histogram and ``process_cpu_seconds_total`` (the CPU time the
calibration's service demand law reads) are per worker process (as with any multi-process
server without a shared registry); stock and orders are read from the database, so they are
the whole service's.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict

from .. import collector

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)

    def observe(self, scope: dict, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        with self._lock:
            self.requests[(route, scope.get("method", ""), status)] += 1
            self.latency[route][bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum[route] += seconds

    def exposition(self, stock: dict[str, dict[str, int]], orders: dict[str, int],
                   connections: int) -> str:
        lines = ["# HELP peakday_requests_total HTTP requests by route, method and status.",
                 "# TYPE peakday_requests_total counter"]
        with self._lock:
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(f'peakday_requests_total{{route="{route}",method="{method}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP peakday_request_seconds Request latency.",
                      "# TYPE peakday_request_seconds histogram"]
            for route, counts in sorted(self.latency.items()):
                running = 0
                for bound, count in zip((*BUCKETS, "+Inf"), counts, strict=True):
                    running += count
                    lines.append(f'peakday_request_seconds_bucket{{route="{route}",'
                                 f'le="{bound}"}} {running}')
                lines.append(f'peakday_request_seconds_sum{{route="{route}"}} '
                             f"{self.latency_sum[route]:.6f}")
                lines.append(f'peakday_request_seconds_count{{route="{route}"}} {running}')
        lines += ["# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                  "seconds (this worker process).",
                  "# TYPE process_cpu_seconds_total counter",
                  f"process_cpu_seconds_total {time.process_time():.6f}"]
        lines += collector.exposition()
        lines += ["# HELP peakday_db_connections Database connections this worker process "
                  "holds (one per thread that has called the database).",
                  "# TYPE peakday_db_connections gauge",
                  f"peakday_db_connections {connections}"]
        lines += ["# HELP peakday_stock_units Stock units by SKU and state.",
                  "# TYPE peakday_stock_units gauge"]
        for sku, figures in stock.items():
            for state, units in figures.items():
                lines.append(f'peakday_stock_units{{sku="{sku}",state="{state}"}} {units}')
        lines += ["# HELP peakday_orders Orders by status.", "# TYPE peakday_orders gauge"]
        for order_status, n in sorted(orders.items()):
            lines.append(f'peakday_orders{{status="{order_status}"}} {n}')
        return "\n".join(lines) + "\n"
