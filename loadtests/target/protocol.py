"""How the checkout's HTTP server meets its clients: a request must arrive in time, and new
connections are accepted as fast as they come (:data:`LOOP`).

uvicorn closes a keep-alive connection that stays idle (``timeout_keep_alive``), but sets no
limit on how long a request may take to arrive: a client that connects and sends nothing, or
sends its headers or body a byte at a time (each byte resets the keep-alive timer), holds a
connection and its buffers for as long as it likes; a few hundred such clients starve a
flash sale. :class:`DeadlineProtocol` gives every request ``READ_TIMEOUT`` seconds, from the
connection opening (or the previous response) to its last body byte, then closes the
connection. A request that has arrived is never cut off, however long its answer takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

READ_TIMEOUT = 10.0
"""Seconds a client has to send a whole request (headers and body, at most 64 KiB)."""
KEEP_ALIVE = 5
"""Seconds an idle keep-alive connection stays open (uvicorn's default, stated)."""
LOOP = "asyncio"
"""The event loop: asyncio's, which accepts every connection waiting when the listening
socket is ready. uvloop (uvicorn's pick when installed) accepts one connection per turn of
its loop (libuv since 1.45), and a busy loop turns slower than new shoppers arrive: in a
drill at 90% of the reference service's ceiling, requests on open connections waited 9 ms
while a new connection waited in the kernel's accept queue for up to 0.9 s, longer the
longer the drill ran (up to 350 connections queued, `ss -ltn`). Every session's first
request, and every request after a think longer than the keep-alive, paid it: a second
queue, in front of the server, that no model of the server foresees. asyncio's loop costs
about 30% more CPU per request (a lower ceiling, which calibration measures) and keeps one
queue."""


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for reading each request."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        _unlink(self.transport)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(READ_TIMEOUT, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        cycle = self.cycle
        reading = cycle is None or cycle.response_complete or cycle.more_body
        if reading and not self.transport.is_closing():
            self.transport.close()


def _unlink(transport: asyncio.BaseTransport) -> None:
    """Drop the bound methods of itself that a closed transport keeps (asyncio's selector
    transport holds its read callback so, ``_read_ready_cb``; 3.12's its write one too), so
    that reference counting frees it and its socket as soon as the connection is gone.

    Each one is otherwise a reference cycle of seven objects that only the cycle collector
    frees — the service's only cyclic garbage in a drill (counted with ``gc.DEBUG_SAVEALL``:
    65,165 transports and nothing else after 74,741 requests at 90% of the ceiling), and
    the reason it had to run at all (collector.py). Python 3.12 clears them itself in
    ``close()`` (not on every path); transports without a ``__dict__`` (uvloop's) have none."""
    for name, value in list(getattr(transport, "__dict__", {}).items()):
        if getattr(value, "__self__", None) is transport:
            setattr(transport, name, None)


def server_options() -> dict[str, Any]:
    """uvicorn settings for the checkout, wherever it is served (``peakday serve``, tests)."""
    return {"http": DeadlineProtocol, "timeout_keep_alive": KEEP_ALIVE, "loop": LOOP}
