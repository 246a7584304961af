"""A sizing's outputs: ``sizing.json``, the ``plan.yaml`` overlay and the "what to do" lines.

Pure functions of the sized plans. ``plan.yaml`` is a partial scenario: merged with
``--overlay`` onto the scenario it came from, it sets ``platform.instances`` to the sized
schedule (autoscaling off, since the plan *is* the schedule) and ``support.agents`` to the
sized agents, so ``peakday simulate FILE --overlay DIR/plan.yaml --check`` verifies the plan.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import yaml

from ..report.formatting import plural
from ..results.summary import tidy
from ..scenario.schedule import StepSchedule
from ..scenario.schema import Scenario
from ..scenario.units import DAY, format_clock
from .agents import AgentPlan, AgentRow, Roster
from .isa import judge as judge_support
from .servers import ERROR, Check, Interval, ServerPlan


@dataclass(frozen=True)
class Sizing:
    """Everything ``peakday size`` found, ready to be written."""

    scenario: Scenario
    servers: ServerPlan
    agents: AgentPlan | None
    replications: int
    changes: tuple[str, ...] = ()
    """The ``--overlay``/``--set`` arguments the scenario was sized with: the plan is a plan
    for the scenario with them, so applying it takes them too (:func:`apply_command`)."""

    @property
    def met(self) -> bool:
        return self.servers.met and (self.agents is None or not self.agents.unmet)


def _clock(scenario: Scenario, offset: float) -> str:
    return scenario.clock.label(offset)


def instance_schedule(sizing: Sizing) -> dict[str, int]:
    """``platform.instances`` of the plan: instances from each clock time on (changes only)."""
    scenario = sizing.scenario
    schedule: dict[str, int] = {}
    last = None
    for interval in sizing.servers.intervals:
        if interval.instances != last:
            tod = (scenario.clock.start_time_of_day + interval.start) % DAY
            schedule[format_clock(tod)] = last = interval.instances
    return schedule


def overlay(sizing: Sizing) -> dict[str, object]:
    """The partial scenario that applies the plan."""
    document: dict[str, object] = {"platform": {"instances": instance_schedule(sizing),
                                                "autoscaling": {"enabled": False}}}
    if sizing.agents is not None:
        document["support"] = {"agents": sizing.agents.schedule()}
    return document


def apply_command(sizing: Sizing, scenario: str = "SCENARIO", plan: str = "plan.yaml") -> str:
    """The command that checks the plan: with the changes it was sized with, then the plan."""
    words = ["peakday", "simulate", scenario, *sizing.changes, "--overlay", plan, "--check"]
    return " ".join(map(_quoted, words))


def _quoted(word: str) -> str:
    """``word`` as a POSIX shell reads it back: in double quotes where it holds single ones
    and nothing double quotes expand (``--set "support.agents={'00:00': 20}"``, as people
    write it), else as :func:`shlex.quote` has it."""
    if shlex.quote(word) != word and "'" in word and not set('"$`\\!') & set(word):
        return f'"{word}"'
    return shlex.quote(word)


def plan_yaml(sizing: Sizing) -> bytes:
    header = (f"# peakday size: the plan for {sizing.scenario.name}. Apply it with\n"
              f"#   {apply_command(sizing)}\n")
    return (header + yaml.safe_dump(overlay(sizing), sort_keys=False)).encode()


def _check_json(check: Check | None) -> dict[str, object]:
    if check is None:
        return {}
    p99 = {m.removesuffix(" p99"): tidy(v * 1000) for m, v in check.values.items()
           if m != ERROR}
    over = [{"metric": m, "value": tidy(check.values[m] * (1 if m == ERROR else 1000)),
             "limit": tidy(check.limits[m] * (1 if m == ERROR else 1000)),
             "unit": "" if m == ERROR else "ms",
             "over_by": f"{check.ratio(m) - 1:.0%}"} for m in check.failing(set())]
    return {"p99_ms": p99, "error_rate": tidy(check.values.get(ERROR, math.nan)),
            "met": not over, "over": over}


Launch = TypedDict("Launch", {"at": str, "instances": int, "action": str, "change": int,
                             "from": str, "to": str, "binds": str})
"""One change of the server plan (``sizing.json`` ``servers.launches``); the functional form
because ``from`` is a keyword."""


def launches(sizing: Sizing) -> list[Launch]:
    """Each change of the plan: when to act, to have how many serving from when to when."""
    scenario = sizing.scenario
    warmup = scenario.platform.autoscaling.warmup
    rows: list[Launch] = []
    previous = None
    for interval in sizing.servers.intervals:
        if interval.instances == previous:
            rows[-1]["to"] = _clock(scenario, interval.end)
            continue
        more = previous is None or interval.instances > previous
        act = interval.start - warmup if more and previous is not None else interval.start
        rows.append({"at": _clock(scenario, act), "instances": interval.instances,
                     "action": "launch" if more else "scale in to",
                     "change": interval.instances - (previous or 0),
                     "from": _clock(scenario, interval.start),
                     "to": _clock(scenario, interval.end),
                     "binds": interval.binds(scenario.sizing.servers.min)})
        previous = interval.instances
    return rows


def what_to_do(sizing: Sizing) -> list[str]:
    """The lines a planner reads first."""
    scenario = sizing.scenario
    lines = []
    for row in launches(sizing):
        span = "all day" if row["from"] == row["to"] else f"{row['from']}–{row['to']}"
        window = f"{span}, bound by {row['binds']}"
        if row["action"] == "launch" and row["change"] != row["instances"]:
            lines.append(f"{row['at']}: launch {plural(row['change'], 'instance')} to have "
                         f"{row['instances']} serving {window}")
        else:
            verb = "start with" if row["action"] == "launch" else "scale in to"
            lines.append(f"{row['at']}: {verb} {plural(row['instances'], 'instance')} for "
                         f"{window}")
    if sizing.agents is not None and sizing.agents.roster is not None:
        lines += _roster_lines(sizing.agents.rows, sizing.agents.roster)
    elif sizing.agents is not None and scenario.support is not None:
        lines += _agent_lines(scenario, sizing.agents.rows)
    for interval in sizing.servers.intervals:
        final = interval.final
        if final is not None and final.failing(set()):
            worst = final.failing(set())[0]
            why = f" ({interval.bound_text()})" if interval.bound_by else ""
            if ("stock lock" in interval.bound_by.values()
                    and scenario.inventory.strategy != "atomic_counter"):
                why += _hot_row(scenario.inventory.strategy)
            lines.append(f"{_clock(scenario, interval.start)}–{_clock(scenario, interval.end)}: "
                         f"SLO NOT MET with {plural(interval.instances, 'instance')}: "
                         f"{_against(worst, final.values[worst], final.limits[worst])}{why}")
    return lines


def _hot_row(strategy: str) -> str:
    """What to do where the stock lock binds: the search only varies servers, so it is the
    planner's to try another strategy — sized again, since the servers the hour then needs
    differ (on double11, 12 instances miss under any strategy; sharded or atomic_counter meet
    with more)."""
    others = [s for s in ("sharded", "atomic_counter") if s != strategy]
    return (f"; servers alone cannot fix a hot row under {strategy}: size again with "
            + " or ".join(f"--set inventory.strategy={s}" for s in others))


def _against(metric: str, value: float, limit: float) -> str:
    """A missed figure beside its limit, in its own unit (``error rate 17.4% against 0.50%``,
    ``checkout p99 2,245 ms against 800 ms``): a planner reads amounts, not a ratio of 3413%."""
    if metric == ERROR:
        return f"{metric} {value:.1%} against {limit:.2%}"
    return f"{metric} {value * 1000:,.0f} ms against {limit * 1000:,.0f} ms"


def _agent_lines(scenario: Scenario, rows: list[AgentRow]) -> list[str]:
    """Where the sized agents differ from the scenario's own, one line per stretch of equal
    intervals (a planner changes a rota by the stretch, not by the half hour)."""
    assert scenario.support is not None
    own = StepSchedule(scenario.support.agents, scenario.clock.start_time_of_day)
    per = scenario.sizing.agents.per
    stretches: list[tuple[str, str, tuple[int, int, int]]] = []
    for i, row in enumerate(rows):
        key = (row.required, row.scheduled, own.at(i * per))
        if stretches and stretches[-1][2] == key:
            stretches[-1] = (stretches[-1][0], row.end, key)
        else:
            stretches.append((row.start, row.end, key))
    return [f"{start}–{end}: keep {plural(required, 'agent')} answering ({scheduled} "
            f"scheduled), not {had}"
            for start, end, (required, scheduled, had) in stretches if required != had]


def _roster_lines(rows: list[AgentRow], roster: Roster) -> list[str]:
    """With shifts, what a contact-centre lead applies is the roster: who starts when."""
    lines = [f"{shift.start}: start {plural(shift.agents, 'agent')} on {shift.hours:g} h shifts"
             for shift in roster.shifts]
    lines += [f"{row.start}–{row.end}: SUPPORT SLO NOT MET on the roster: service level "
              f"{judged.service_level.low:.1%} (worse end) with {phones} agents answering"
              for row, judged, phones in zip(rows, roster.judged, roster.on_the_phones,
                                             strict=True) if not judged.meets]
    return lines


def _own_agent_hours(scenario: Scenario) -> float:
    if scenario.support is None:
        return 0.0
    schedule = StepSchedule(scenario.support.agents, scenario.clock.start_time_of_day)
    step = 60.0
    minutes = np.arange(0, scenario.clock.duration, step)
    return float(sum(schedule.at(t) for t in minutes)) * step / 3600.0


def document(sizing: Sizing) -> dict[str, object]:
    """``sizing.json``."""
    scenario, servers = sizing.scenario, sizing.servers
    costs = scenario.sizing
    instance_cost = servers.instance_hours * costs.servers.cost_per_instance_hour
    agent_cost = sizing.agents.cost if sizing.agents is not None else 0.0
    own_agent_hours = _own_agent_hours(scenario)
    own_instance_cost = servers.own_instance_hours * costs.servers.cost_per_instance_hour
    own_agent_cost = own_agent_hours * costs.agents.cost_per_agent_hour
    own_support = None
    support_results = [r.support for r in sizing.servers.own_results if r.support is not None]
    if scenario.slo is not None and scenario.slo.support is not None and support_results:
        own_support = judge_support(support_results, scenario.slo.support, costs.confidence)
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replications": sizing.replications,
        "confidence": costs.confidence,
        "clock": {"start": scenario.clock.start.isoformat(), "duration_s": scenario.clock.duration},
        "met": sizing.met,
        "what_to_do": what_to_do(sizing),
        "servers": {
            "per_s": costs.servers.per, "min": costs.servers.min, "max": costs.servers.max,
            "warmup_s": scenario.platform.autoscaling.warmup,
            "schedule": instance_schedule(sizing),
            "launches": launches(sizing),
            "intervals": [_interval_json(scenario, i, servers.intervals[n - 1] if n else None)
                          for n, i in enumerate(servers.intervals)],
            "instance_hours": tidy(servers.instance_hours),
            "cost": tidy(instance_cost),
            "search": {"steps": servers.steps,
                       "simulated_days": round(servers.simulated_days, 2)},
        },
        "agents": sizing.agents.to_json() if sizing.agents is not None else None,
        "cost": tidy(instance_cost + agent_cost),
        "scenario_plan": {
            "instances": scenario.model_dump(mode="json")["platform"]["instances"],
            "autoscaling": scenario.platform.autoscaling.enabled,
            "agents": (scenario.model_dump(mode="json")["support"]["agents"]
                       if scenario.support is not None else None),
            "instance_hours": tidy(servers.own_instance_hours),
            "agent_hours": tidy(own_agent_hours),
            "cost": tidy(own_instance_cost + own_agent_cost),
            "servers_met": all(not c.failing(set()) for c in servers.own),
            "support_met": None if own_support is None else all(j.meets for j in own_support),
            "intervals": [{"from": _clock(scenario, i.start), "to": _clock(scenario, i.end),
                           **_check_json(c)} for i, c in zip(servers.intervals, servers.own,
                                                            strict=True)],
        },
    }


def _interval_json(scenario: Scenario, interval: Interval,
                   before: Interval | None) -> dict[str, object]:
    warmup = scenario.platform.autoscaling.warmup
    launch = before is not None and interval.instances > before.instances
    return {
        "from": _clock(scenario, interval.start), "to": _clock(scenario, interval.end),
        "start_s": interval.start, "end_s": interval.end,
        "launch_at": _clock(scenario, interval.start - warmup) if launch else None,
        "instances": interval.instances, "estimate": interval.estimate,
        "binds": interval.binds(scenario.sizing.servers.min),
        "bound_by": dict(interval.bound_by),
        "tested": {str(c): not check.failing(interval.ignored)
                   for c, check in sorted(interval.tested.items())},
        **_check_json(interval.final),
    }
