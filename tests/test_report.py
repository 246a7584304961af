"""The capacity report: rendered in headless Chromium, and refusing broken results folders."""

from __future__ import annotations

import json
import shutil
from html import escape
from pathlib import Path

import pytest

from peakday.cli import app

from .conftest import ROOT, SCENARIOS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FIGURES = ("traffic", "latency", "errors", "stock", "payments", "support")
TABLES = ("latency-table", "inventory-table", "flash-sale-table", "payments-table",
          "support-table")
QUIET = [f"traffic.sessions_per_min.{t}=300" for t in ("19:00", "19:55", "20:30", "21:00")]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A short replicated run of the flash-sale scenario (two replications: bands drawn)."""
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("report") / "run"
    args = ["simulate", str(SCENARIOS / "flash-sale.yaml"), "--out", str(out), "--quiet",
            "--replications", "2", "--jobs", "1", "--set", "promotions.flash_sales.0.audience=6000"]
    for override in QUIET:
        args += ["--set", override]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_simulate_writes_the_report_and_its_figures(results):
    for name in FIGURES:
        png = (results / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
    html = (results / "report.html").read_text()
    assert "http://" not in html and "https://" not in html, "self-contained: no fetches"
    assert html.count("data:image/png;base64,") == len(FIGURES)
    for table in ("violations", *TABLES):
        assert f'id="{table}"' in html, table
    summary = json.loads((results / "summary.json").read_text())
    kinds = [f["kind"] for f in summary["findings"]]
    assert "flash_sale_bots" in kinds, "bots took flash units: the verdict says so"
    assert 'id="findings"' in html
    for breach in summary["slo"]["breaches"]:
        assert escape(breach["text"]) in html


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package "
                                             "chromium; .ci/run installs it)")
def test_report_renders_in_headless_chromium(results):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    shots = ROOT / "results" / "test-artifacts"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"fetched {r.url}")
                if not r.url.startswith(("file:", "data:")) else None)
        page.goto((results / "report.html").as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "figure img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.alt])")
        tables = page.eval_on_selector_all("table", "ts => ts.map(t => t.id)")
        verdict = page.inner_text(".verdict")
        page.screenshot(path=str(shots / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(images) == len(FIGURES)
    assert all(complete and width > 500 for complete, width, _ in images), images
    for table in TABLES:
        assert table in tables
    assert "SLOs" in verdict


def test_report_command_rerenders(results, runner):
    (results / "report.html").unlink()
    result = runner.invoke(app, ["report", str(results)])
    assert result.exit_code == 0, result.output
    assert (results / "report.html").stat().st_size > 100_000


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / "summary.json").unlink(), "summary.json: missing"),
    (lambda d: (d / "summary.json").write_text("{broken"), "summary.json: not valid JSON"),
    (lambda d: (d / "timeseries.csv").write_text("minute,time\n1,2\n"), "is not ISO"),
    (lambda d: (d / "timeseries.csv").write_text("a,b\n"), "no header"),
    (lambda d: (d / "scenario.json").write_text(json.dumps({"name": "x"})),
     "scenario.json: not a peakday scenario"),
    (lambda d: (d / "summary.json").write_text("[]"), "not a JSON object"),
], ids=["missing", "corrupt-json", "bad-time", "no-header", "bad-scenario", "not-object"])
def test_broken_results_are_a_clean_error(results, runner, tmp_path, damage, message):
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    before = (copy / "report.html").read_bytes()
    damage(copy)
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert (copy / "report.html").read_bytes() == before, "the old report is left whole"
    assert not list(copy.glob(".*tmp*"))


def test_not_a_folder(runner, tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not a results folder" in result.output


def test_a_long_figure_title_is_wrapped_and_the_caption_kept_whole():
    """A verdict with its advice ran off the PNG's edge (the drill's load curve): the title
    over the axes wraps to the figure's width; the HTML caption keeps it on one line."""
    from sim.report.figures import TITLE_WIDTH, canvas, finish

    title = "Predicted p95 off by up to 7842% (checkout, whole drill): " + "calibrate " * 12
    with canvas() as (fig, (ax,)):
        ax.plot([0, 1], [0, 1])
        figure = finish(fig, ax, "curve", title)
        drawn = ax.get_title(loc="left")
    assert figure.title == title and figure.png.startswith(b"\x89PNG")
    assert "\n" in drawn and all(len(line) <= TITLE_WIDTH for line in drawn.splitlines())
    assert drawn.replace("\n", " ") == title.strip()
