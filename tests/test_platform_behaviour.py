"""Admission control, timeouts, retries, autoscaling, and every request ending exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from sim.metrics import FLOOR, RATIO
from sim.model.day import simulate_day
from sim.scenario import load_scenario

from .conftest import SCENARIOS


def overloaded(*extra: str):
    """2 workers, constant 100 ms service (20/s capacity), 60 sessions/s: 3x overload."""
    return load_scenario(SCENARIOS / "textbook" / "mmc.yaml", [
        "clock.duration=30m", "platform.instances=2", "traffic.sessions_per_min.00:00=3600",
        "platform.endpoints.home.service=constant(100ms)",
        "platform.admission.max_queue=50", "platform.admission.queue_timeout=1s", *extra])


def max_latency(hist) -> float:
    top = int(np.nonzero(hist.counts)[0].max())
    return FLOOR * RATIO ** (top + 1)


def test_overload_sheds_and_latency_stays_bounded():
    obs = simulate_day(overloaded(), np.random.SeedSequence(1))
    c = obs.counters
    assert c["shed"] > 0.5 * c["requests"]            # two thirds of the load cannot be served
    served = c["requests"] - c["errors"]
    assert served == pytest.approx(20 * 1800, rel=0.02)  # the workers never idle
    assert max_latency(obs.latency["all"]) <= 1.0 + 0.1 + 0.02  # queue_timeout + service (+1%)


def test_every_request_ends_exactly_once():
    obs = simulate_day(overloaded("customers.client_timeout=700ms",
                                  "customers.retry.max_attempts=3",
                                  "customers.retry.backoff=200ms"),
                       np.random.SeedSequence(2))
    c = obs.counters
    assert c["timeouts"] > 0 and c["shed"] > 0 and c["retries"] > 0
    assert c["requests_submitted"] == c["requests"] + c["requests_unanswered_at_end"]
    # sessions: each either finished (served or gave up) or is still going at the end
    assert c["sessions"] >= c["sessions_finished"] >= obs.losses.gave_up["browse"]


def test_client_timeout_turns_slow_answers_into_errors_and_retries_add_load():
    base = simulate_day(overloaded("platform.admission.queue_timeout=10s",
                                   "platform.admission.max_queue=100000",
                                   "customers.client_timeout=500ms"),
                        np.random.SeedSequence(3))
    retrying = simulate_day(overloaded("platform.admission.queue_timeout=10s",
                                       "platform.admission.max_queue=100000",
                                       "customers.client_timeout=500ms",
                                       "customers.retry.max_attempts=3"),
                            np.random.SeedSequence(3))
    assert base.counters["timeouts"] > 0
    assert max_latency(base.latency["all"]) <= 0.5 * 1.02
    assert retrying.counters["requests_submitted"] > 1.5 * base.counters["requests_submitted"]


def test_autoscaler_adds_instances_after_warmup_and_relieves_the_queue():
    scenario = load_scenario(SCENARIOS / "textbook" / "mmc.yaml", [
        "clock.duration=1h", "platform.instances=2", "traffic.sessions_per_min.00:00=1800",
        "platform.autoscaling.enabled=true", "platform.autoscaling.min=2",
        "platform.autoscaling.max=20", "platform.autoscaling.target_utilization=0.6",
        "platform.autoscaling.interval=60s", "platform.autoscaling.warmup=120s",
        "platform.admission.max_queue=1000", "platform.admission.queue_timeout=2s"])
    obs = simulate_day(scenario, np.random.SeedSequence(4))
    instances = obs.series["instances"]
    assert instances[0] == 2 and instances[1] == 2           # nothing serves before warm-up
    assert instances[-1] >= 10                               # 30/s needs 6 busy workers at 0.2 s
    assert instances.max() <= 20
    late = obs.series["shed"][-20:].sum()
    assert late == 0, "once scaled out, nothing should be shed"
    assert obs.series["utilization"][-20:].mean() == pytest.approx(0.6, abs=0.15)
