"""The sizing report (``report.html``): the plan first, then why, then what it costs.

Self-contained like the capacity report (figures embedded as PNG, no network): the "what to
do" lines, the cost of the plan beside the scenario's own, servers per interval against the
load, agents per interval with SIPP beside the simulated requirement, and the tables.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from importlib import resources

import jinja2
import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import numpy as np

from ..model.observer import MINUTE
from ..report.figures import STYLES, Figure, canvas, clock_ticks, finish
from ..report.formatting import fmt, plural
from ..scenario.schedule import StepSchedule
from .gantt import roster_gantt
from .plan import Sizing, apply_command


def render(sizing: Sizing, document: dict) -> bytes:
    """``report.html`` for a sizing and its ``sizing.json`` document."""
    scenario = sizing.scenario
    figures = [_servers_figure(sizing)]
    if sizing.agents is not None:
        figures.append(_agents_figure(sizing))
        if sizing.agents.roster is not None:
            figures.append(roster_gantt(sizing.agents, scenario))
    own = document["scenario_plan"]
    plan_agents = document["agents"]
    costs = [
        ("sized plan", fmt(document["servers"]["instance_hours"], "float"),
         fmt(plan_agents["paid_agent_hours"], "float") if plan_agents else "–",
         fmt(document["cost"], "money"), "met" if document["met"] else "not met"),
        ("scenario's own plan", fmt(own["instance_hours"], "float"),
         fmt(own["agent_hours"], "float"), fmt(own["cost"], "money"),
         _own_verdict(own)),
    ]
    endpoints = sorted({e for i in document["servers"]["intervals"] for e in i.get("p99_ms", {})})
    own_agents = []
    if sizing.agents is not None and scenario.support is not None:
        schedule = StepSchedule(scenario.support.agents, scenario.clock.start_time_of_day)
        per = scenario.sizing.agents.per
        own_agents = [schedule.at(i * per) for i in range(len(sizing.agents.rows))]
    template = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    text = resources.files(__package__).joinpath("templates/sizing.html.j2").read_text()
    html = template.from_string(text).render(
        s=document, costs=costs, endpoints=endpoints, own_agents=own_agents, fmt=fmt,
        apply=apply_command(sizing),
        figures=[{"title": f.title, "data": base64.b64encode(f.png).decode()} for f in figures])
    return html.encode()


def _own_verdict(own: dict) -> str:
    servers = "servers met" if own["servers_met"] else "servers not met"
    if own["support_met"] is None:
        return servers
    return f"{servers}, support {'met' if own['support_met'] else 'not met'}"


def _servers_figure(sizing: Sizing) -> Figure:
    scenario, servers = sizing.scenario, sizing.servers
    clock = scenario.clock
    with canvas(1, 3.8) as (fig, (left,)):
        # Numbers of days (matplotlib's date unit): what it makes of datetimes, typed as such.
        starts = mdates.date2num([clock.local(i.start) for i in servers.intervals]).tolist()
        ends = mdates.date2num([clock.local(i.end) for i in servers.intervals]).tolist()
        counts = [i.instances for i in servers.intervals]
        left.step([*starts, ends[-1]], [*counts, counts[-1]], where="post",
                  color=STYLES[0][0], lw=2, label="sized instances")
        for interval, start, end in zip(servers.intervals, starts, ends, strict=True):
            if interval.final is not None and interval.final.failing(set()):
                left.axvspan(start, end, color="#fdedec", zorder=0)
        left.set_ylabel("instances serving")
        left.set_ylim(0, max(counts) * 1.25 + 1)
        right = left.twinx()
        load = np.sum([np.asarray(v) for v in servers.minute_requests.values()], axis=0) / MINUTE
        minutes = mdates.date2num([clock.start + timedelta(seconds=m * MINUTE)
                                   for m in range(len(load))])
        right.plot(minutes, load, color=STYLES[1][0], ls=STYLES[1][1], lw=1,
                   label="requests / s (scenario's own plan)")
        right.set_ylabel("requests / s")
        right.set_ylim(0, max(1.0, float(load.max(initial=0))) * 1.15)
        clock_ticks(left, clock.start.tzinfo)
        handles = left.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        left.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
        peak = max(servers.intervals, key=lambda i: i.instances)
        if min(counts) == max(counts):
            title = f"{plural(counts[0], 'instance')} serving the whole run"
        else:
            title = (f"Servers follow the load: {min(counts)} to {max(counts)} instances, the "
                     f"most at {clock.label(peak.start)}–{clock.label(peak.end)}")
        return finish(fig, left, "servers", title)


def _agents_figure(sizing: Sizing) -> Figure:
    scenario, agents = sizing.scenario, sizing.agents
    assert agents is not None and scenario.support is not None
    clock = scenario.clock
    per = scenario.sizing.agents.per
    own = StepSchedule(scenario.support.agents, clock.start_time_of_day)
    with canvas(1, 3.8) as (fig, (axis,)):
        n = len(agents.rows)
        edges = mdates.date2num([clock.local(i * per) for i in range(n)] + [clock.local(
            min(n * per, clock.duration))]).tolist()

        def step(values: list[int], style: int, label: str, width: float = 1.5) -> None:
            axis.step(edges, [*values, values[-1]], where="post", color=STYLES[style][0],
                      ls=STYLES[style][1], lw=width, label=label)

        step([r.sipp for r in agents.rows], 2, "SIPP (Erlang, interval by interval)")
        step([r.required for r in agents.rows], 0, "sized: answering (simulation)", 2.2)
        step([r.scheduled for r in agents.rows], 4, "sized: scheduled (with shrinkage)")
        step([own.at(i * per) for i in range(n)], 1, "scenario's own agents")
        axis.set_ylabel("agents")
        clock_ticks(axis, clock.start.tzinfo)
        axis.legend(loc="upper right", fontsize=8)
        changed = sum(r.required != r.sipp for r in agents.rows)
        title = (f"Agents per interval: simulation changes SIPP's answer in {changed} of {n} "
                 f"intervals; {agents.agent_hours:,.0f} scheduled agent-hours")
        return finish(fig, axis, "agents", title)
