"""Plain Locust entry: the scenario's drill, for ``locust -f loadtests/locustfile.py``.

    PEAKDAY_SCENARIO=scenarios/flash-sale.yaml \\
        locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8080

``PEAKDAY_SET`` takes ``--set`` overrides separated by ``;``; ``PEAKDAY_SEED`` a seed. The same
shoppers, schedule and shape as ``peakday drill`` (which adds the results files, thresholds,
abort rule and self-test); Locust's own web UI, CSV and HTML options work as usual. For
Locust's distributed mode, set ``PEAKDAY_WORKERS`` to the number of workers on every worker.
The target must be in ``drill.allowed_hosts``: anything else exits (status 2, saying why)
before a request is sent; redirects are answers, not followed unless the scenario asks
(``drill.follow_redirects``), and then only to hosts on the list.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import gevent
from locust import LoadTestShape, events
from locust.runners import WorkerRunner

from loadtests.drill import SPAWN_RATE, lead, prepare_generator
from loadtests.safety import UnsafeTarget
from loadtests.schedule import build_plan
from loadtests.users import DrillState, Shopper, attach
from sim.scenario import ScenarioError, load_scenario

__all__ = ["DrillShape", "Shopper"]

try:
    SCENARIO = load_scenario(os.environ.get("PEAKDAY_SCENARIO", "scenarios/flash-sale.yaml"),
                             [s for s in os.environ.get("PEAKDAY_SET", "").split(";") if s])
except ScenarioError as exc:
    sys.exit("\n".join(exc.errors))
SEED = os.environ.get("PEAKDAY_SEED")
PLAN = build_plan(SCENARIO, int(SEED) if SEED else None)
STATE = DrillState(SCENARIO, PLAN)
prepare_generator(STATE)


def _refuse(reason: UnsafeTarget) -> str:
    return reason.told("peakday: --host", "list it in the scenario's drill.allowed_hosts "
                       "(e.g. with PEAKDAY_SET) to drill it deliberately")


@events.init.add_listener
def _check_host(environment, **_kwargs) -> None:
    """Give the users this process's drill; a --host off the allow-list: say why and exit 2
    before anything starts. (A worker's host comes from its master, and the web UI's when a
    test starts: see _start.)"""
    attach(environment, STATE)
    if environment.host and not isinstance(environment.runner, WorkerRunner):
        reason = STATE.refusal(environment.host)
        if reason:
            print(_refuse(reason), file=sys.stderr)
            sys.exit(2)


def _refused(environment, reason: UnsafeTarget) -> None:
    """Say why, in Locust's log, and make Locust exit 2 when it ends."""
    logging.error(_refuse(reason))
    environment.process_exit_code = 2


@events.test_start.add_listener
def _start(environment, **_kwargs) -> None:
    runner = environment.runner
    reason = STATE.refusal(environment.host)
    if reason:  # nothing is sent: the users never start a visit
        _refused(environment, reason)
        if isinstance(runner, WorkerRunner):
            gevent.spawn(runner.quit)  # leave the master
        return
    worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
    workers = int(os.environ.get("PEAKDAY_WORKERS", "1"))
    STATE.take(worker, workers, time.time() + lead(PLAN))


class DrillShape(LoadTestShape):
    """The user pool for the schedule, then stop after drill.graceful_stop."""

    def tick(self):
        if self.get_run_time() > lead(PLAN) + PLAN.duration + SCENARIO.drill.graceful_stop:
            return None
        environment = self.runner.environment if self.runner else None
        reason = STATE.refusal(environment.host if environment else None)
        if reason:  # a host typed into the web UI: the test stops before it starts
            if environment is not None:
                _refused(environment, reason)
            return None
        return PLAN.users, SPAWN_RATE
