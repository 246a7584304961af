"""The drill's shoppers keep their connections, however many the load generator holds.

Before it reuses a pooled connection, geventhttpclient (every version Locust 2.47 accepts,
>= 2.5.1) checks that the server has not closed it with ``select.select``, which raises for
a file descriptor of 1024 or more; the check then calls the connection dead, and the pool
closes it and opens another. A load generator holding thousands of connections has mostly
such descriptors, so near the reference service's ceiling 18,549 of 19,707 connections
carried one request each (counted on the service, 12 s at 1.79x flash-sale) while the
client had returned 24,020 of its 24,028 to its pool: every request paid a connection's
set-up on both sides, which browsers keeping theirs do not. :func:`install` replaces the
check with the same question asked through ``poll``, which has no such limit.
"""

from __future__ import annotations

import select
import socket

from gevent.monkey import get_original
from geventhttpclient.connectionpool import ConnectionPool

_poll = get_original("select", "poll")
"""The system's poll, not gevent's (Locust patches ``select``): a check that must not wait."""


def alive(sock: socket.socket | None) -> bool:
    """True when an idle pooled connection can carry another request: open, and with nothing
    to read (readable while idle means the server closed it, or sent what nobody asked for)."""
    if sock is None or sock.fileno() < 0:
        return False
    poller = _poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


def _pooled(_pool: ConnectionPool, sock: socket.socket | None) -> bool:
    return alive(sock)


def install() -> None:
    """Make every connection pool of this process check its connections with :func:`alive`."""
    ConnectionPool._is_socket_alive = _pooled  # type: ignore[method-assign,assignment]
