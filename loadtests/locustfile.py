"""Plain Locust entry: the scenario's drill, for ``locust -f loadtests/locustfile.py``.

    PEAKDAY_SCENARIO=scenarios/flash-sale.yaml \\
        locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8080

``PEAKDAY_SET`` takes ``--set`` overrides separated by ``;``; ``PEAKDAY_SEED`` a seed. The same
shoppers, schedule and shape as ``peakday drill`` (which adds the results files, thresholds,
abort rule and self-test); Locust's own web UI, CSV and HTML options work as usual. For
Locust's distributed mode, set ``PEAKDAY_WORKERS`` to the number of workers on every worker.
The target must be in ``drill.allowed_hosts``: anything else stops the test before a request.
"""

from __future__ import annotations

import os
import sys
import time

from locust import LoadTestShape, events

from loadtests import users
from loadtests.drill import SPAWN_RATE, lead
from loadtests.safety import UnsafeTarget, check_target
from loadtests.schedule import build_plan
from loadtests.users import DrillState, Shopper
from sim.scenario import ScenarioError, load_scenario

__all__ = ["DrillShape", "Shopper"]

try:
    SCENARIO = load_scenario(os.environ.get("PEAKDAY_SCENARIO", "scenarios/flash-sale.yaml"),
                             [s for s in os.environ.get("PEAKDAY_SET", "").split(";") if s])
except ScenarioError as exc:
    sys.exit("\n".join(exc.errors))
SEED = os.environ.get("PEAKDAY_SEED")
PLAN = build_plan(SCENARIO, int(SEED) if SEED else None)
users.STATE = DrillState(SCENARIO, PLAN)


@events.test_start.add_listener
def _start(environment, **_kwargs) -> None:
    try:
        check_target(environment.host or "", SCENARIO.drill.allowed_hosts, [])
    except UnsafeTarget as exc:
        environment.runner.quit()
        sys.exit(str(exc))
    runner = environment.runner
    worker = getattr(runner, "worker_index", 0) if runner.__class__.__name__ == "WorkerRunner" \
        else 0
    workers = int(os.environ.get("PEAKDAY_WORKERS", "1"))
    users.STATE.take(worker, workers, time.time() + lead(PLAN))


class DrillShape(LoadTestShape):
    """The user pool for the schedule, then stop after drill.graceful_stop."""

    def tick(self):
        if self.get_run_time() > lead(PLAN) + PLAN.duration + SCENARIO.drill.graceful_stop:
            return None
        return PLAN.users, SPAWN_RATE
