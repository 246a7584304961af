"""The roster as a Gantt chart over the requirement: what a contact-centre lead puts on the wall.

Top: agents needed on shift per interval (the requirement grossed up for shrinkage) and the
roster's cover, so over-cover is visible where shift lengths force it. Bottom: one bar per
shift start and length, labelled with its agents; a shift running past the end of a whole-day
clock wraps to its start (the roster repeats daily).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from ..report.figures import STYLES, Figure, finish
from ..scenario.schema import Scenario
from ..scenario.units import DAY, parse_clock
from .agents import AgentPlan


def roster_gantt(plan: AgentPlan, scenario: Scenario) -> Figure:
    """PNG and conclusion of the plan's roster (the plan must have one)."""
    roster = plan.roster
    assert roster is not None
    clock, per = scenario.clock, scenario.sizing.agents.per
    span = len(roster.need) * per / 3600
    edges = [i * per / 3600 for i in range(len(roster.need) + 1)]
    rows = max(len(roster.shifts), 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 3.2 + 0.28 * rows), dpi=110,
                                      sharex=True, height_ratios=[3, max(2, rows * 0.4)])
    try:
        top.stairs(roster.need, edges, color=STYLES[1][0], ls="--", lw=1.5,
                   label="needed on shift (required / (1 - shrinkage))")
        top.stairs(roster.on_shift, edges, color=STYLES[0][0], lw=1.5, fill=False,
                   label="on shift in the roster")
        top.set_ylabel("agents")
        top.legend(fontsize=8, loc="upper left")
        for row, shift in enumerate(roster.shifts):
            start = (parse_clock(shift.start) - clock.start_time_of_day) % DAY / 3600
            pieces = [(start, min(shift.hours, span - start))]
            if start + shift.hours > span and clock.duration % DAY == 0:
                pieces.append((0.0, start + shift.hours - span))
            bottom.broken_barh(pieces, (row - 0.4, 0.8), color=STYLES[row % 3][0], alpha=0.8)
            bottom.text(start + 0.05, row, f"{shift.agents} × {shift.hours:g} h from "
                                           f"{shift.start}", va="center", fontsize=7,
                        color="white" if pieces[0][1] > 2.5 else "black")
        bottom.set_yticks([])
        bottom.set_ylim(rows - 0.5, -0.5)
        bottom.set_xlim(0, span)
        ticks = [h for h in range(0, int(span) + 1, max(1, int(span) // 12))]
        bottom.set_xticks(ticks, [clock.label(h * 3600) for h in ticks])
        bottom.set_xlabel("local time")
        agents = sum(s.agents for s in roster.shifts)
        over = roster.agent_hours / roster.need_agent_hours - 1 if roster.need_agent_hours else 0
        title = (f"Roster: {agents} agents on {len(roster.shifts)} shifts, "
                 f"{roster.agent_hours:,.0f} paid agent-hours for {roster.need_agent_hours:,.0f} "
                 f"needed ({over:+.0%})")
        if roster.added:
            title += f"; {len(roster.added)} shift(s) added after simulation"
        return finish(fig, top, "roster", title)
    finally:
        plt.close(fig)
