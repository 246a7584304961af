"""Shared fixtures: paths to the shipped scenarios and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml")) + sorted((SCENARIOS / "textbook").glob("*.yaml"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
