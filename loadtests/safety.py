"""Where a drill may send load: loopback by default, and nowhere else unless told so.

Checked before anything is sent. The allow-list is the scenario's ``drill.allowed_hosts``
plus hosts given with ``--allow-host`` on the command line (a deliberate act of the operator,
never something a scenario file can do on its own).
"""

from __future__ import annotations

from urllib.parse import urlsplit


class UnsafeTarget(Exception):
    """A target the drill refuses to load."""


def check_target(url: str, allowed: list[str], extra: list[str]) -> str:
    """The normalised target URL, or :class:`UnsafeTarget` saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(f"--target {url!r}: not an http(s) URL (e.g. http://127.0.0.1:8080)")
    host = parts.hostname.lower()
    permitted = {h.lower().strip("[]") for h in (*allowed, *extra)}
    if host not in permitted:
        raise UnsafeTarget(
            f"--target {url!r}: host {host!r} is not in drill.allowed_hosts "
            f"({', '.join(sorted(permitted))}); nothing was sent. Load only hosts you own: "
            f"add --allow-host {host} to drill it deliberately")
    return f"{parts.scheme}://{parts.netloc}"
