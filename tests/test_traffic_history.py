"""Traffic from last year's CSV with a growth factor: the same curve as inline points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peakday.cli import app
from sim.scenario import load_scenario
from sim.traffic import RateCurve

SCENARIO = """\
name: history
clock: {{start: "2026-11-11T19:00:00+08:00", duration: {duration}}}
traffic:
  sessions_per_min: {curve}
customers:
  segments:
    all: {{share: 1}}
platform:
  instances: 4
  endpoints:
    home: {{service: exponential(mean=50ms)}}
"""
HISTORY = """\
time,sessions_per_min
2025-11-11T00:00:00+08:00,900
# the evening, as exported
19:00,240
19:15,400
19:30,320
23:59,150
"""
INLINE = '{"00:00": 1350, "19:00": 360, "19:15": 600, "19:30": 480, "23:59": 225}'


IN_WINDOW = '{"19:00": 360, "19:15": 600, "19:30": 480}'
"""The inline points that fall inside a 30-minute run from 19:00 (they alone shape it)."""


def _write(folder: Path, curve: str, history: str = HISTORY, duration: str = "30m") -> Path:
    (folder / "last-year.csv").write_text(history)
    path = folder / "scenario.yaml"
    path.write_text(SCENARIO.format(curve=curve, duration=duration))
    return path


def test_csv_with_growth_is_the_inline_curve_times_the_factor(tmp_path):
    from_csv = load_scenario(_write(tmp_path, "{csv: last-year.csv, growth: 1.5}",
                                    duration="24h"))
    inline = load_scenario(_write(tmp_path, INLINE, duration="24h"))
    assert from_csv.traffic.sessions_per_min == inline.traffic.sessions_per_min
    assert from_csv.traffic.history is not None and from_csv.traffic.history.growth == 1.5
    a = RateCurve(from_csv.traffic.sessions_per_min, from_csv.clock)
    b = RateCurve(inline.traffic.sessions_per_min, inline.clock)
    assert a.per_day == b.per_day


def test_a_whole_day_history_drives_a_short_run_the_same_as_inline_points(tmp_path, runner):
    """Points outside a 30-minute clock are fine from a history file; the run draws the very
    same sessions as the inline curve (same seed)."""
    sessions = []
    for name, curve in (("csv", "{csv: last-year.csv, growth: 1.5}"), ("inline", IN_WINDOW)):
        folder = tmp_path / name
        folder.mkdir()
        result = runner.invoke(app, ["simulate", str(_write(folder, curve)), "--quiet",
                                     "--jobs", "1", "--out", str(folder / "run")])
        assert result.exit_code == 0, result.output
        sessions.append(json.loads((folder / "run" / "summary.json").read_text())["sessions"])
    assert sessions[0] == sessions[1] > 0
    saved = json.loads((tmp_path / "csv" / "run" / "scenario.json").read_text())
    assert saved["traffic"]["history"] == {"csv": "last-year.csv", "growth": 1.5}


def test_a_file_name_alone_means_growth_one(tmp_path):
    scenario = load_scenario(_write(tmp_path, "last-year.csv"))
    assert scenario.traffic.sessions_per_min[19 * 3600.0] == 240


@pytest.mark.parametrize(("curve", "history", "message"), [
    ("last-year.csv", "time,rate\n19:00,240\n19:10,lots\n",
     "traffic.sessions_per_min: last-year.csv:3: rate 'lots' is not a number"),
    ("last-year.csv", "19:00,240\n19:00,250\n",
     "last-year.csv:2: 19:00 appears twice (one rate per clock time)"),
    ("last-year.csv", "19:00,240\nteatime,250\n",
     "last-year.csv:2: cannot read 'teatime' as a clock time"),
    ("last-year.csv", "19:00,-5\n", "last-year.csv:1: rate '-5' must be a number >= 0"),
    ("last-year.csv", "time,rate\n", "last-year.csv: no rows"),
    ("missing.csv", "", "missing.csv: cannot read it: No such file or directory"),
    ("{csv: last-year.csv, growth: 0}", HISTORY, "growth 0 is not a factor above 0"),
    ("{csv: last-year.csv, grow: 2}", HISTORY, "unknown key 'grow' beside csv"),
], ids=["not-a-number", "twice", "bad-time", "negative", "empty", "missing", "growth",
        "typo"])
def test_bad_history_is_one_line_with_file_and_line(tmp_path, runner, curve, history,
                                                     message):
    path = _write(tmp_path, curve, history)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:4: ")
    assert message in lines[0], lines[0]
