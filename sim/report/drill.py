"""The drill's report: how faithfully the load was replayed, and what the target did.

Rendered from ``drill.json`` alone (a results file: the simulator's side never imports the
load-test code), as a self-contained HTML page with one figure — sessions scheduled vs
started per 10-second window, over the p95 latency per window — and the tables a reviewer
checks: thresholds, latency per endpoint (corrected for coordinated omission, and not),
sell-outs and the server's stock.
"""

from __future__ import annotations

import base64

import jinja2

from sim.scenario.schema import DRILL_WINDOW, GENERATOR_LIMIT

from .figures import STYLES, Figure, canvas, finish
from .formatting import comparison_value, fmt
from .load_curve import comparison_figure
from .shapes import Comparison, Drill, parse

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>drill of {{ d.scenario }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1rem;
       color: #1c2833; } table { border-collapse: collapse; margin: .6rem 0; }
th, td { border-bottom: 1px solid #d5dbdb; padding: .25rem .7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f6f6; }
.verdict { padding: .8rem 1rem; border-radius: 6px; font-size: 1.1rem; }
.pass { background: #e9f7ef; border-left: 6px solid #1e8449; }
.fail { background: #fdedec; border-left: 6px solid #922b21; } img { width: 100%; }
</style></head><body>
<h1>Drill of {{ d.scenario }}</h1>
<p>Target {{ d.target }}; window {{ d.window[0] }}–{{ d.window[1] }} replayed {{ d.compress }}×
faster at {{ "%g" % (d.scale * 100) }}% of the rates; {{ d.users }} Locust users
{% if d.workers %}on {{ d.workers }} workers{% else %}in one process{% endif %};
ran {{ "%.0f" % d.ran_s }} s ({{ d.stopped_because }}).</p>
<div class="verdict {{ 'pass' if d.passed else 'fail' }}"><b>{{ 'PASSED' if d.passed else
'FAILED' }}</b>: {{ passed_checks }} of {{ d.thresholds | length }} thresholds met.</div>
<h2>Thresholds</h2>
<table id="thresholds"><tr><th>check</th><th>measured</th><th>limit</th><th>result</th></tr>
{% for c in d.thresholds %}<tr><td>{{ c.metric }} {{ c.endpoint }}</td>
<td>{{ measured(c) }}</td><td>{{ limit(c) }}</td><td>{{ 'pass' if c.passed else 'FAIL' }}</td></tr>
{% endfor %}</table>
<h2>Replay fidelity</h2>
<figure><img src="data:image/png;base64,{{ figure }}" alt="{{ title }}"><figcaption>{{ title }}
</figcaption></figure>
<table id="sessions"><tr><th>sessions</th><th>scheduled</th><th>started</th><th>late (&gt;1 s)</th>
<th>not started</th><th>start lag p50</th><th>p99</th></tr>
<tr><td>all</td><td>{{ fmt(d.sessions.scheduled) }}</td><td>{{ fmt(d.sessions.started) }}</td>
<td>{{ fmt(d.sessions.late) }}</td><td>{{ fmt(d.sessions.not_started) }}</td>
<td>{{ fmt(d.start_lag_ms.p50, 'ms') }}</td><td>{{ fmt(d.start_lag_ms.p99, 'ms') }}</td></tr>
</table>
{% if d.load_generator %}<p{% if d.load_generator.limited %} class="verdict fail"{% endif %}>
The load generator's busiest process used {{ fmt(d.load_generator.busy, 'pct') }} of a core.
{% if d.load_generator.limited %}At that load it limits what it measures: its own lateness is in
the latencies below; spread the load over more workers or machines.{% endif %}</p>{% endif %}
<h2>Latency per endpoint</h2>
<p>Measured from each request's intended start (coordinated omission corrected); the last
column is the plain response time. Payment latency excludes the provider's own time when the
target reports it (Server-Timing: gateway).</p>
<table id="endpoints"><tr><th>endpoint</th><th>requests</th><th>errors</th><th>p50</th>
<th>p95</th><th>p99</th><th>p99 uncorrected</th></tr>
{% for name, e in d.endpoints.items() %}<tr><td>{{ name }}</td><td>{{ fmt(e.requests) }}</td>
<td>{{ fmt(e.errors) }}</td><td>{{ fmt(e.p50_ms, 'ms') }}</td><td>{{ fmt(e.p95_ms, 'ms') }}</td>
<td>{{ fmt(e.p99_ms, 'ms') }}</td><td>{{ fmt(e.p99_uncorrected_ms, 'ms') }}</td></tr>
{% endfor %}</table>
{% if d.sold_out %}<h2>Sell-outs as shoppers saw them</h2>
<table id="sold-out"><tr><th>SKU</th><th>scenario clock</th><th>seconds into the drill</th></tr>
{% for sku, s in d.sold_out.items() %}<tr><td>{{ sku }}</td><td>{{ s.clock }}</td>
<td>{{ "%.1f" % s.after_s }}</td></tr>{% endfor %}</table>{% endif %}
{% if d.server %}<h2>Stock on the server after the drill</h2>
<table id="server-stock"><tr><th>SKU</th><th>initial</th><th>available</th><th>reserved</th>
<th>sold</th><th>oversold</th></tr>
{% for sku, s in d.server.stock.items() %}<tr><td>{{ sku }}</td><td>{{ fmt(s.initial) }}</td>
<td>{{ fmt(s.available) }}</td><td>{{ fmt(s.reserved) }}</td><td>{{ fmt(s.sold) }}</td>
<td>{{ d.server.oversold[sku] }}</td></tr>{% endfor %}</table>{% endif %}
{% if comparison %}<h2>The model's prediction beside the drill</h2>
<p>{{ comparison.note }}. Every phase's rows are in comparison.json.</p>
{% for n in comparison.notes %}<p class="verdict fail">{{ n[0] | upper }}{{ n[1:] }}.</p>
{% endfor %}
{% if curve_png %}<figure><img src="data:image/png;base64,{{ curve_png }}" alt="{{ curve_title }}">
<figcaption>{{ curve_title }}</figcaption></figure>{% endif %}
<table id="comparison"><tr><th>figure</th><th>endpoint</th><th>requests</th><th>predicted</th>
<th>observed</th><th>relative error</th></tr>
{% for r in comparison.rows if r.phase == 'all' %}<tr><td>{{ r.figure }}{% if r.sku %}
{{ r.sku }}{% endif %}</td><td>{{ r.endpoint }}</td><td>{{ fmt(r.requests) if r.requests
is defined else '' }}</td><td>{{ value(r.figure, r.predicted) }}</td>
<td>{{ value(r.figure, r.observed) }}</td>
<td>{{ "%+.0f%%" % (r.relative_error * 100) if r.relative_error is not none else '–' }}</td>
</tr>{% endfor %}</table>{% endif %}
<p>Locust's own report: locust.html; its statistics: locust_stats.csv.</p>
</body></html>
"""


def _fidelity_figure(drill: dict) -> Figure:
    """Sessions scheduled and started per window over the latency of the requests due in it
    (every endpoint) and the load generator's busy share there: whether the replay kept time,
    and whether a p95 over minutes was a steady queue or a few bad seconds — and whose."""
    windows = drill["windows"]
    latency = [w.get("p95_ms") for w in windows]
    busy = [w.get("generator_busy") for w in windows]
    rows = 2 if any(v is not None for v in latency) else 1
    with canvas(rows, 3.0) as (fig, axes):
        ax = axes[0]
        starts = [w["from_s"] for w in windows]
        middles = [s + DRILL_WINDOW / 2 for s in starts]
        ax.bar(starts, [w["scheduled"] for w in windows], width=DRILL_WINDOW * 0.8, align="edge",
               color="#d5dbdb", label="scheduled", hatch="..")
        ax.plot(middles, [w["started"] for w in windows], color=STYLES[0][0],
                marker="o", ms=4, lw=1.4, label="started")
        ax.set_ylabel("sessions")
        ax.legend(fontsize=8)
        if rows == 2:
            below = axes[1]
            below.plot(middles, [_or_nan(v) for v in latency], color=STYLES[1][0],
                       marker="s", ms=4, lw=1.4, label="p95 of the requests due in the window")
            below.set_ylabel("p95 latency, ms")
            below.set_ylim(bottom=0)
            handles, labels = below.get_legend_handles_labels()
            if any(v is not None for v in busy):
                right = below.twinx()
                right.plot(middles, [_or_nan(v) * 100 for v in busy], color=STYLES[2][0],
                           ls=STYLES[2][1], marker="^", ms=4, lw=1.2,
                           label="load generator busy (busiest process)")
                right.axhline(GENERATOR_LIMIT * 100, color="#922b21", ls=(0, (4, 2)), lw=0.9,
                              label=f"{GENERATOR_LIMIT:.0%}: it measures itself as well")
                right.set_ylim(0, 110)
                right.set_ylabel("% of a core")
                more = right.get_legend_handles_labels()
                handles, labels = handles + more[0], labels + more[1]
            below.legend(handles, labels, fontsize=8, loc="upper left")
        for each in axes:
            each.grid(alpha=0.3)
        axes[-1].set_xlabel("seconds into the drill (10-second windows)")
        title = (f"Sessions started as scheduled within {drill['fidelity']:.1%} in every window "
                 f"after the first; start lag p99 {fmt(drill['start_lag_ms']['p99'], 'ms')}")
        seen = [v for v in latency if v is not None]
        if seen:
            title += f"; p95 per window {fmt(min(seen), 'ms')} to {fmt(max(seen), 'ms')}"
        return finish(fig, ax, "fidelity", title)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def render_drill_report(content: bytes, where: str = "drill.json",
                        comparison: bytes | None = None) -> dict[str, bytes]:
    """``report.html`` and ``fidelity.png`` from a drill.json (and its comparison.json)."""
    drill = parse(content, Drill, where)
    beside = None if comparison is None else parse(
        comparison, Comparison, where.replace("drill.json", "comparison.json"))
    fidelity = _fidelity_figure(drill)

    def measured(check: dict) -> str:
        return fmt(check["value_ms"], "ms") if "value_ms" in check else fmt(check["value"], "pct")

    def limit(check: dict) -> str:
        return fmt(check["limit_ms"], "ms") if "limit_ms" in check else fmt(check["limit"], "pct")

    curve = comparison_figure(beside) if beside else None
    environment = jinja2.Environment(autoescape=True)
    html = environment.from_string(TEMPLATE).render(
        d=drill, comparison=beside, fmt=fmt, value=comparison_value, measured=measured,
        limit=limit,
        title=fidelity.title, figure=base64.b64encode(fidelity.png).decode(),
        curve_title=curve[0] if curve else "",
        curve_png=base64.b64encode(curve[1]).decode() if curve else "",
        passed_checks=sum(1 for c in drill["thresholds"] if c["passed"]))
    files = {"report.html": html.encode(), "fidelity.png": fidelity.png}
    if curve:
        files["load_curve.png"] = curve[1]
    return files
