"""The HTML page of ``peakday compare``: key figures and SLO verdicts of several plans."""

from __future__ import annotations

from importlib import resources

import jinja2


def render_compare_html(document: dict) -> bytes:
    """``compare.html`` from :func:`~sim.results.compare_runs.compare`'s document (standalone)."""
    text = resources.files("sim.report").joinpath("templates/compare.html.j2").read_text()
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(text).render(doc=document).encode()
