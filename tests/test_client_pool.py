"""The drill's connection pool (client_pool.py): a shopper reuses its connection whatever
descriptor it landed on, and the target is looked up once per process."""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gevent.socket
import pytest
from geventhttpclient import HTTPClient
from geventhttpclient.connectionpool import ConnectionPool

from loadtests import client_pool

DESCRIPTORS = 1100
"""Open before the client connects, so that its socket's descriptor is past select's 1024."""


@contextmanager
def counting_server() -> Iterator[tuple[str, list[int]]]:
    """A keep-alive HTTP/1.1 server on loopback that notes each request's client port."""
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", ports
    finally:
        server.shutdown()
        server.server_close()


def restore_pools(monkeypatch) -> None:
    """Undo install() after the test, and forget what it looked up."""
    monkeypatch.setattr(ConnectionPool, "_is_socket_alive", ConnectionPool._is_socket_alive)
    monkeypatch.setattr(ConnectionPool, "_resolve", ConnectionPool._resolve)
    monkeypatch.setattr(client_pool, "_ADDRESSES", {})


def test_a_connection_past_descriptor_1024_is_kept(monkeypatch):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < DESCRIPTORS + 100:
        pytest.skip(f"this machine allows {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, DESCRIPTORS + 100), hard))
    restore_pools(monkeypatch)
    client_pool.install()
    filler = [socket.socket() for _ in range(DESCRIPTORS)]
    try:
        with counting_server() as (url, ports):
            client = HTTPClient.from_url(url, concurrency=1)
            for _ in range(3):
                response = client.get("/")
                assert response.read() == b"ok"
                response.release()
            client.close()
        assert len(ports) == 3 and len(set(ports)) == 1, f"connections from ports {ports}"
    finally:
        for sock in filler:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_the_server_closed_is_not_reused():
    """The check still does its job: an idle connection with its end-of-file waiting is dead."""
    mine, theirs = socket.socketpair()
    assert client_pool.alive(mine)
    theirs.close()
    assert not client_pool.alive(mine)
    mine.close()
    assert not client_pool.alive(mine)


def test_the_target_is_looked_up_once_per_process(monkeypatch):
    """Three shoppers' pools open three connections to the address one lookup gave (without
    install(), three lookups: each through gevent's thread pool)."""
    restore_pools(monkeypatch)
    lookups = []
    lookup = gevent.socket.getaddrinfo

    def counted(*args, **kwargs):
        lookups.append(args[:2])
        return lookup(*args, **kwargs)

    monkeypatch.setattr(gevent.socket, "getaddrinfo", counted)
    client_pool.install()
    with counting_server() as (url, ports):
        for _ in range(3):
            client = HTTPClient.from_url(url, concurrency=1)
            response = client.get("/")
            assert response.read() == b"ok"
            response.release()
            client.close()
    assert len(set(ports)) == 3, f"connections from ports {ports}"
    assert len(lookups) == 1, lookups
