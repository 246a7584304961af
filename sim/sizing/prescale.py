"""Pre-scaling exports: the server plan as a launch schedule and as KEDA cron triggers.

``prescale.csv`` lists each change of the plan: the clock time from which N instances must
serve, and when to launch them (``warmup`` earlier for an increase). ``prescale-keda.yaml`` is
the same schedule as a Kubernetes KEDA ``ScaledObject`` with one ``cron`` trigger per stretch
of the plan, active from its launch time to its end: KEDA runs the highest ``desiredReplicas``
of the active triggers, so a stretch launched during the previous one's last minutes (its
warm-up) is already counted then. Both are pure functions of ``sizing.json``.

Cron times are the scenario's local clock on its own date (``minute hour day month *``); the
time zone is the fixed-offset IANA zone of the scenario's clock (``+08:00`` is
``Etc/GMT-8``; the sign is inverted by that convention), or UTC with times converted when the
offset is not whole hours (no IANA zone names such offsets).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import yaml

from ..results.folders import csv_bytes


@dataclass(frozen=True)
class Stretch:
    """A run of intervals with the same instances: serve from..to, launched at ``launch``."""

    serve_from: datetime
    serve_to: datetime
    instances: int
    launch: datetime


def stretches(sizing: dict) -> list[Stretch]:
    """The plan's stretches, in time order."""
    start = datetime.fromisoformat(sizing["clock"]["start"])
    warmup = timedelta(seconds=sizing["servers"]["warmup_s"])
    runs: list[Stretch] = []
    for interval in sizing["servers"]["intervals"]:
        begins = start + timedelta(seconds=interval["start_s"])
        ends = start + timedelta(seconds=interval["end_s"])
        count = interval["instances"]
        if runs and runs[-1].instances == count:
            runs[-1] = replace(runs[-1], serve_to=ends)
            continue
        more = bool(runs) and count > runs[-1].instances
        runs.append(Stretch(begins, ends, count, begins - warmup if more else begins))
    return runs


def prescale_csv(sizing: dict) -> bytes:
    rows: list[list[object]] = [
        [run.serve_from.isoformat(timespec="minutes"), run.serve_to.isoformat(timespec="minutes"),
         run.instances, run.launch.isoformat(timespec="minutes")] for run in stretches(sizing)]
    return csv_bytes(["serve_from", "serve_to", "instances", "launch_at"], rows)


def zone_of(moment: datetime) -> tuple[str, datetime]:
    """The IANA zone for a fixed-offset time, and the time in it (UTC if no zone fits)."""
    offset = moment.utcoffset() or timedelta(0)
    hours, rest = divmod(offset.total_seconds(), 3600)
    if rest:
        return "Etc/UTC", moment - offset
    hours = int(hours)
    return ("Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"), moment


def _cron(moment: datetime) -> str:
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} *"


def keda_yaml(sizing: dict, deployment: str) -> bytes:
    """A KEDA ``ScaledObject`` scaling ``deployment`` by the plan's cron triggers."""
    triggers = []
    for run in stretches(sizing):
        zone, launch = zone_of(run.launch)
        _, end = zone_of(run.serve_to)
        triggers.append({"type": "cron", "metadata": {
            "timezone": zone, "start": _cron(launch), "end": _cron(end),
            "desiredReplicas": str(run.instances)}})
    document = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"{deployment}-prescale",
                     "annotations": {"peakday/scenario": sizing["scenario"]}},
        "spec": {"scaleTargetRef": {"name": deployment},
                 "minReplicaCount": min(i["instances"] for i in sizing["servers"]["intervals"]),
                 "maxReplicaCount": max(i["instances"] for i in sizing["servers"]["intervals"]),
                 "triggers": triggers},
    }
    header = (f"# peakday size: pre-scaling for {sizing['scenario']} as KEDA cron triggers.\n"
              "# kubectl apply -f prescale-keda.yaml (KEDA 2.x installed in the cluster)\n")
    return (header + yaml.safe_dump(document, sort_keys=False)).encode()
