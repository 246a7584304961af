"""A tiny real HTTP server on 127.0.0.1 whose model is known: set service times, set workers.

Each drill endpoint takes its set service time while holding one of ``workers`` slots (the
others wait their turn), so the server is a c-worker queue with constant service per
endpoint. ``/metrics`` reports the seconds its workers were held as
``process_cpu_seconds_total``: the busy time a CPU counter gives a CPU-bound server (on a
loaded machine a sleep overshoots by a few ms, and the slot is held that long too).
``fail=True`` answers every request with a 500.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUTES = [("GET", re.compile(r"^/$"), "home"),
          ("GET", re.compile(r"^/products/[^/]+$"), "product"),
          ("POST", re.compile(r"^/cart$"), "cart"),
          ("POST", re.compile(r"^/orders$"), "checkout"),
          ("POST", re.compile(r"^/orders/[^/]+/pay$"), "pay"),
          ("POST", re.compile(r"^/support/tickets$"), "support")]
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

    def serve(self, endpoint: str) -> None:
        seconds = self.service_s.get(endpoint, 0.0)
        with self.slots:
            began = time.perf_counter()
            time.sleep(seconds)
            held = time.perf_counter() - began
            with self._lock:
                self.busy_s += held
                self.held.setdefault(endpoint, []).append(held)

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
                    with target._lock:
                        text = f"process_cpu_seconds_total {target.busy_s:.6f}\n"
                    self._answer(200, text.encode(), "text/plain")
                    return
                if target.fail:
                    self._answer(500, b'{"error": "failing on purpose"}')
                    return
                for verb, pattern, endpoint in ROUTES:
                    if verb == method and pattern.match(self.path):
                        target.serve(endpoint)
                        status, body = CREATED.get(endpoint, (200, {"ok": True}))
                        self._answer(status, json.dumps(body).encode())
                        return
                self._answer(404, b'{"error": "no such route"}')

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler
