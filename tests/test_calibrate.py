"""peakday calibrate against targets whose model is known: a real loopback HTTP server with
set service times and a set number of workers, driven by real Locust drills."""

from __future__ import annotations

import json

import pytest

from loadtests.calibrate.steps import SPREAD_LOAD
from peakday.cli import app
from sim.scenario import load_scenario

from .conftest import SCENARIOS
from .loopback_target import LoopbackTarget

pytestmark = pytest.mark.xdist_group("load")
"""Drills and calibrations time a real server under load: they run one after the other on one
pytest worker (``--dist loadgroup``), never beside each other, or a drill's start lag measures
the calibration next to it."""

FLASH = SCENARIOS / "flash-sale.yaml"
SERVICE_S = {"home": 0.075, "product": 0.100, "cart": 0.125, "checkout": 0.200, "pay": 0.100}
"""Long enough that a loaded machine's sleep overshoot (a few ms) stays small beside them."""
WORKERS = 8
"""Capacity: 8 / 0.12 s (the journey's mean demand) = about 67 requests/s."""
PROFILE = ["--first-rate", "25", "--step", "5", "--max-steps", "6",
           "--set", "customers.think_time=exponential(mean=2s)",
           "--set", 'customers.segments={"all": {"share": 1, "product_views": '
                    '"geometric(mean=1)", "funnel": {"cart": 1, "checkout": 1, "pay": 1}}}']
"""25 requests/s for 5 s (rho about 0.37: 25 requests per endpoint), then up: 3-6 steps. The
steps' sessions are the scenario's: here every shopper walks every step (so the lightest step
has requests of every endpoint) and thinks 0.4 s between requests (2 s over the drill's
compress of 5: each step's warm phase lasts about a second). No mix probes (--probes): a
test machine too loaded for Locust to start 100 sessions a second would have them measure the
load generator (tests/test_calibration_fit.py fits probes' steps)."""


@pytest.fixture
def known_target():
    target = LoopbackTarget(SERVICE_S, WORKERS).start()
    yield target
    target.stop()


def test_fit_recovers_set_demands_and_workers(runner, known_target, tmp_path):
    out = tmp_path / "cal"
    result = runner.invoke(app, ["calibrate", str(FLASH), "--target", known_target.url,
                                 "--out", str(out), *PROFILE])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "calibration.json").read_text())
    fit = document["fit"]
    assert fit["workers"] == WORKERS, fit
    # Judged against what the target delivered: on a loaded machine each sleep overshoots,
    # and a fit that found the set times instead of that would be wrong about the target.
    delivered = known_target.delivered()
    assert delivered.keys() == SERVICE_S.keys()
    for endpoint, seconds in delivered.items():
        assert fit["endpoints"][endpoint]["demand_s"] == pytest.approx(seconds, rel=0.10), \
            (endpoint, SERVICE_S[endpoint])
    steps = document["steps"]
    ramp, spread = steps[:-2], steps[-2:]
    first = next(i for i, s in enumerate(ramp) if s["saturated"])
    assert first > 0, "the ramp starts under saturation"
    after = ramp[first + 1:]
    assert len(after) <= 1, "the ramp stops at saturation (one step between, at most)"
    for step in after:  # the ramp doubled into saturation: once more, between the two
        assert ramp[first - 1]["sessions_per_s"] < step["sessions_per_s"] < ramp[first][
            "sessions_per_s"]
    for step in spread:
        assert not step["saturated"]
        assert step["throughput"] == pytest.approx(fit["saturation_throughput"] * SPREAD_LOAD,
                                                   rel=0.15)
    assert fit["saturation_throughput"] == pytest.approx(
        WORKERS / (sum(delivered.values()) / len(delivered)), rel=0.15)
    assert [r["step"] for r in document["residuals"]] == [s["index"] for s in steps]
    assert (out / "calibration.png").stat().st_size > 0
    # The overlay applies to the scenario as --overlay does on every command.
    calibrated = load_scenario(FLASH, overlays=[out / "calibration.yaml"])
    assert calibrated.platform.workers_per_instance == WORKERS
    assert not calibrated.platform.autoscaling.enabled
    assert calibrated.platform.endpoints["checkout"].service.mean == pytest.approx(
        fit["endpoints"]["checkout"]["demand_s"], rel=0.01)
    assert calibrated.drill.outside_server["home"].mean >= 0


def test_target_failing_every_step_is_a_clear_exit_2(runner, tmp_path):
    target = LoopbackTarget(SERVICE_S, WORKERS, fail=True).start()
    try:
        result = runner.invoke(app, ["calibrate", str(FLASH), "--target", target.url,
                                     "--out", str(tmp_path / "cal"), "--step", "2"])
    finally:
        target.stop()
    assert result.exit_code == 2
    assert "step 1" in result.output and "error rate 100%" in result.output
    assert "nothing was calibrated" in result.output
    assert not (tmp_path / "cal").exists(), "nothing half-written"


def test_refit_needs_a_calibration_folder(runner, tmp_path):
    (tmp_path / "drill").mkdir()
    (tmp_path / "drill" / "notes.txt").write_text("not a calibration")
    result = runner.invoke(app, ["calibrate", str(FLASH), "--refit", str(tmp_path / "drill"),
                                 "--out", str(tmp_path / "cal")])
    assert result.exit_code == 2
    assert "no calibration steps" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "cal").exists()


def test_overlay_that_does_not_apply_is_refused_before_any_load(runner, tmp_path):
    bad = tmp_path / "calibration.yaml"
    bad.write_text("platform:\n  workers_per_instance: 0\n  endpoints:\n"
                   "    search:\n      service: lognormal(mean=2ms, cv=0.5)\n")
    for command in (["calibrate", str(FLASH), "--self-test", "--out", str(tmp_path / "c")],
                    ["drill", str(FLASH), "--self-test", "--out", str(tmp_path / "d")]):
        result = runner.invoke(app, [*command, "--overlay", str(bad)])
        assert result.exit_code == 2, result.output
        assert f"{bad}:2: platform.workers_per_instance" in result.output
        assert f"{bad}:4: platform.endpoints.search" in result.output
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_target_off_the_allow_list_is_refused(runner, tmp_path):
    result = runner.invoke(app, ["calibrate", str(FLASH), "--target", "http://checkout.invalid:8080",
                                 "--out", str(tmp_path / "cal")])
    assert result.exit_code == 2
    assert "checkout.invalid" in result.output
    assert not (tmp_path / "cal").exists()
