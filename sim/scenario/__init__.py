"""The scenario language: one validated :class:`Scenario` read by the simulator and the drills."""

from .distributions import Distribution, Kind
from .loader import ScenarioError, load_scenario
from .schema import ENDPOINTS, Scenario

__all__ = ["ENDPOINTS", "Distribution", "Kind", "Scenario", "ScenarioError", "load_scenario"]
