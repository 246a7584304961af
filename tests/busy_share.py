"""The load generator's busy share, in a process of its own (Locust patches the standard
library with gevent on import, which the test process must not get).

``python -m tests.busy_share`` spends 0.1 s of CPU before the schedule's zero (starting
users), 0.2 s on the load, 0.3 s after it stopped (the write-up), and prints as JSON the
busy share the process reports and the seconds from its zero to the load's stop.
"""

from __future__ import annotations

import json
import time

import gevent

from loadtests.schedule import build_plan
from loadtests.users import DrillState
from sim.scenario import load_scenario

from .conftest import SCENARIOS


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this process's CPU."""
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def main() -> dict:
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml",
                             ['drill.window=["19:00","19:01"]', "drill.scale=0.01"])
    state = DrillState(scenario, build_plan(scenario))
    t0 = time.time() + 0.3
    state.take(0, 1, t0)
    burn(0.1)
    gevent.sleep(max(0.01, t0 - time.time()))  # the loop turns: its timer at zero fires
    burn(0.2)
    state.load_stopped()
    until = time.time()
    burn(0.3)
    return {"busy": state.busy(until), "seconds": until - t0}


if __name__ == "__main__":
    print(json.dumps(main()))
