"""Where a drill may send load: loopback by default, and nowhere else unless told so.

One rule for every place a request could leave: the target given on the command line, the
host a Locust master names to its workers, and every hop of a redirect a scenario asked to
follow. A host is allowed when it is spelled exactly as an entry of the allow-list (no name
resolution, no numeric tricks: ``0x7f000001`` is not ``127.0.0.1``). The allow-list is the
scenario's ``drill.allowed_hosts`` plus hosts given with ``--allow-host`` on the command line
(a deliberate act of the operator, never something a scenario file can do on its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit


class UnsafeTarget(Exception):
    """A target the drill refuses to load; ``host`` is set when only the allow-list stood in
    the way (the caller says how its user may extend the list)."""

    def __init__(self, message: str, host: str | None = None):
        super().__init__(message)
        self.host = host

    def told(self, subject: str, remedy: str) -> str:
        """The one-line message: ``subject`` names what was refused (``--target``), ``remedy``
        says how this command lets the operator allow ``{host}`` deliberately."""
        suffix = f": {remedy.format(host=self.host)}" if self.host else ""
        return f"{subject} {self}{suffix}"


class AllowList:
    """The hosts a drill may send requests to."""

    def __init__(self, allowed: Iterable[str], extra: Iterable[str] = ()):
        self.hosts = frozenset(h.lower().strip("[]") for h in (*allowed, *extra))

    def admits(self, url: str) -> bool:
        """Whether a request to ``url`` (absolute) may be sent; malformed URLs are not."""
        try:
            return _host(_parse(url)) in self.hosts
        except UnsafeTarget:
            return False

    def listed(self) -> str:
        return ", ".join(sorted(self.hosts)) or "nothing"


def _parse(url: str) -> SplitResult:
    """The URL's parts, with its port checked (urlsplit only checks it when asked)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(f"{url!r} is not an http(s) URL (e.g. http://127.0.0.1:8080)")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeTarget(f"{url!r}: the port is not a number from 1 to 65535") from None
    if port == 0:
        raise UnsafeTarget(f"{url!r}: the port is not a number from 1 to 65535")
    return parts


def _host(parts: SplitResult) -> str:
    return (parts.hostname or "").lower()


def check_target(url: str, allowed: AllowList) -> str:
    """The normalised base URL of a drill's target, or :class:`UnsafeTarget` saying why not.

    A base URL is scheme, host and port: the paths come from ``drill.endpoints``, so a path
    here would be silently dropped; it is refused instead.
    """
    parts = _parse(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UnsafeTarget(f"{url!r}: give the base URL only (scheme, host, port); the paths "
                           "come from drill.endpoints")
    host = _host(parts)
    if host not in allowed.hosts:
        raise UnsafeTarget(f"{url!r}: host {host!r} is not in drill.allowed_hosts "
                           f"({allowed.listed()}); nothing was sent. Load only hosts you own",
                           host)
    return f"{parts.scheme}://{parts.netloc}"
