"""A drill's idle users, in a process of its own (Locust patches the standard library with
gevent on import, which the test process must not get).

``python -m tests.idle_users`` starts a pool of USERS Locust users on a drill that has no
share of the schedule yet, measures the CPU the pool spends waiting for one, then gives it a
share due a minute later (every visit is taken at once, the pool is larger than the share)
and measures the CPU the users left without a visit spend. Prints the two figures, and how
many visits the users took, as JSON. Nothing is sent: every visit is still a minute away
when the process quits.
"""

from __future__ import annotations

import json
import time

import gevent
from locust.env import Environment

from loadtests.schedule import build_plan
from loadtests.users import DrillState, Shopper, attach
from sim.scenario import load_scenario

from .conftest import SCENARIOS

USERS = 2_000
MEASURE_S = 1.0


def cpu_over(seconds: float) -> float:
    """CPU seconds this process spends while its loop runs for ``seconds``."""
    start = time.process_time()
    gevent.sleep(seconds)
    return time.process_time() - start


def main() -> dict:
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml",
                             ['drill.window=["19:00","19:01"]', "drill.scale=0.01"])
    state = DrillState(scenario, build_plan(scenario))
    environment = Environment(user_classes=[Shopper], host="http://127.0.0.1:9")
    attach(environment, state)
    runner = environment.create_local_runner()
    runner.start(USERS, spawn_rate=1_000_000)
    gevent.sleep(0.5)  # every user spawned and in its task
    before_share = cpu_over(MEASURE_S)
    state.take(0, 1, time.time() + 60)
    share = len(state.visits)
    gevent.sleep(0.2)
    after_share = cpu_over(MEASURE_S)
    taken = share - len(state.visits)
    runner.quit()
    return {"users": USERS, "share": share, "taken": taken,
            "cpu_before_share": before_share, "cpu_after_share": after_share}


if __name__ == "__main__":
    print(json.dumps(main()))
