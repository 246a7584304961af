"""A tiny real HTTP server on 127.0.0.1 whose model is known: set service times, set workers.

Each drill endpoint takes its set service time while holding one of ``workers`` slots (the
others wait their turn), so the server is a c-worker queue with constant service per
endpoint. ``/metrics`` reports the seconds its workers were held as
``process_cpu_seconds_total``: the busy time a CPU counter gives a CPU-bound server (on a
loaded machine a sleep overshoots by a few ms, and the slot is held that long too), and each
route's time inside as the reference service's ``peakday_request_seconds`` does.
``fail=True`` answers every request with a 500.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUTES = [("GET", re.compile(r"^/$"), "home", "/"),
          ("GET", re.compile(r"^/products/[^/]+$"), "product", "/products/{sku}"),
          ("POST", re.compile(r"^/cart$"), "cart", "/cart"),
          ("POST", re.compile(r"^/orders$"), "checkout", "/orders"),
          ("POST", re.compile(r"^/orders/[^/]+/pay$"), "pay", "/orders/{order_id}/pay"),
          ("POST", re.compile(r"^/support/tickets$"), "support", "/support/tickets")]
"""(method, path pattern, endpoint, route as /metrics labels it)."""
CREATED = {"cart": (201, {"cart_id": "c1"}), "checkout": (201, {"order_id": "o1"}),
           "support": (201, {"ticket": 1})}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A drill's end cuts connections mid-answer: expected, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackTarget:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is where it listens."""

    def __init__(self, service_s: dict[str, float], workers: int, fail: bool = False):
        self.service_s = service_s
        self.slots = threading.Semaphore(workers)
        self.fail = fail
        self.busy_s = 0.0
        self.held: dict[str, list[float]] = {endpoint: [] for endpoint in service_s}
        """Seconds each request held its worker, per endpoint: the demand really served."""
        self.inside: dict[str, list] = {}
        """Route -> [seconds inside the server (waiting for a worker, then served), requests],
        as ``peakday_request_seconds`` (the reference service's histogram) reports them."""
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LoopbackTarget:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def serve(self, endpoint: str, route: str) -> None:
        seconds = self.service_s.get(endpoint, 0.0)
        arrived = time.perf_counter()
        with self.slots:
            began = time.perf_counter()
            time.sleep(seconds)
            held = time.perf_counter() - began
            with self._lock:
                self.busy_s += held
                self.held.setdefault(endpoint, []).append(held)
                inside = self.inside.setdefault(route, [0.0, 0])
                inside[0] += time.perf_counter() - arrived
                inside[1] += 1

    def metrics(self) -> str:
        """Prometheus text: the busy seconds as CPU, and the time inside per route."""
        with self._lock:
            lines = [f"process_cpu_seconds_total {self.busy_s:.6f}"]
            for route, (seconds, count) in self.inside.items():
                lines += [f'peakday_request_seconds_sum{{route="{route}"}} {seconds:.6f}',
                          f'peakday_request_seconds_count{{route="{route}"}} {count}']
        return "\n".join(lines) + "\n"

    def delivered(self) -> dict[str, float]:
        """Mean seconds a worker was held per endpoint: the set time plus the sleep overshoot
        of a loaded machine, which is the demand the target really had."""
        with self._lock:
            return {e: sum(h) / len(h) for e, h in self.held.items() if h}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            """Headers and body go out as separate writes: with Nagle's algorithm the body
            would wait for the client's delayed ACK (40 ms on Linux)."""

            def log_message(self, *_args: object) -> None:
                return

            def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if method == "GET" and self.path == "/metrics":
                    self._answer(200, target.metrics().encode(), "text/plain")
                    return
                if target.fail:
                    self._answer(500, b'{"error": "failing on purpose"}')
                    return
                for verb, pattern, endpoint, route in ROUTES:
                    if verb == method and pattern.match(self.path):
                        target.serve(endpoint, route)
                        status, body = CREATED.get(endpoint, (200, {"ok": True}))
                        self._answer(status, json.dumps(body).encode())
                        return
                self._answer(404, b'{"error": "no such route"}')

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler
