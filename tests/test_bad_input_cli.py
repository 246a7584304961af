"""Bad input on the command line: exit 2 with one line saying what is wrong, never a traceback,
nothing written."""

from __future__ import annotations

import pytest

from peakday.cli import app

from .conftest import SCENARIOS
from .refusals import assert_refused, snapshot


@pytest.mark.parametrize("value", ["1e30h", "1e400s", "36501d", "1000000d"])
def test_absurd_durations_are_refused_by_the_language(runner, tmp_path, value):
    result = runner.invoke(app, ["simulate", str(SCENARIOS / "small-shop.yaml"), "--out",
                                 str(tmp_path / "run"), "--set", f"clock.duration={value}"])
    assert_refused(result, "clock.duration", "the longest duration peakday reads")
    assert snapshot(tmp_path) == {}
