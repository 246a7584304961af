"""The drill's HTTP connection pool (geventhttpclient's, under Locust's FastHttpUser), made fit
for a load generator holding thousands of connections: two of its habits replaced in every
process of a drill (:func:`install`, from drill.py).

**Keeping connections past descriptor 1024.** Before it reuses a pooled connection,
geventhttpclient (every version Locust 2.47 accepts, >= 2.5.1) checks that the server has not
closed it with ``select.select``, which raises for a file descriptor of 1024 or more; the
check then calls the connection dead, and the pool closes it and opens another. A load
generator holding thousands of connections has mostly such descriptors, so near the
reference service's ceiling 18,549 of 19,707 connections carried one request each (counted
on the service, 12 s at 1.79x flash-sale) while the client had returned 24,020 of its 24,028
to its pool: every request paid a connection's set-up on both sides, which browsers keeping
theirs do not. :func:`alive` asks the same question through ``poll``, which has no such
limit.

**Looking the target up once.** The pool resolves its host for every connection it opens,
through gevent's resolver — by default a thread pool, so each new connection handed
``getaddrinfo`` to another thread and waited for it to hand back. A drill opens a connection
per session (a shopper's pooled one has timed out by its next visit), ~600 a second at 90%
of the reference service's ceiling. A drill loads one host and port: :func:`_resolve_once`
keeps the first answer for each (shoppers connecting before it arrives ask too), and every
later connection is made to its addresses, whatever a name server answers later.
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


_ADDRESSES: dict[tuple[str, int, bool], list] = {}
"""(host, port, IPv4 only) -> what the pool's own lookup answered, the first time."""
_lookup = ConnectionPool._resolve


def _resolve_once(pool: ConnectionPool) -> list:
    key = (pool._connection_host, pool._connection_port, pool.disable_ipv6)
    if key not in _ADDRESSES:  # a failed lookup raises, is not kept, and is asked again
        _ADDRESSES[key] = _lookup(pool)
    return _ADDRESSES[key]


def install() -> None:
    """Make every connection pool of this process check its connections with :func:`alive`
    and look its host up once."""
    ConnectionPool._is_socket_alive = _pooled  # type: ignore[method-assign,assignment]
    ConnectionPool._resolve = _resolve_once  # type: ignore[method-assign,assignment]
