"""A drill's settings, as the command hands them to the Locust process (no Locust import)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DrillConfig:
    scenario: str
    overrides: list[str]
    target: str
    out: str
    seed: int | None = None
    workers: int = 0
    """Local worker processes to start (0: run in this process)."""
    expect_workers: int = 0
    """Workers to wait for before starting (--master on several machines)."""
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    allow_hosts: list[str] = field(default_factory=list)
    """Hosts allowed besides drill.allowed_hosts (--allow-host; the self-test's own service)."""
    admin_token: str | None = None
    """The target's admin token (self-test): lets the drill switch outages and check stock."""
    extra: dict = field(default_factory=dict)
    """Facts the parent adds to drill.json (e.g. the self-test service's settings)."""
    overlays: list[str] = field(default_factory=list)
    """``--overlay`` files merged onto the scenario (before ``overrides``)."""
    cores: list[int] = field(default_factory=list)
    """Cores the load generator's processes run on (a self-test's placement, target/cores.py);
    empty: the scheduler's choice."""
