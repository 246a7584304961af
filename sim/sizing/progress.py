"""The size command's progress bar: simulated days of the search, with time remaining.

The search does not know its length in advance (each step decides whether another is
needed), so each step adds its days to the bar's total when it starts; the remaining-time
estimate is Rich's, from the pace of the days done so far.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .servers import Progress as SearchProgress


class _Bar(SearchProgress):
    def __init__(self, bars: Progress | None):
        self.bars = bars
        self.task: TaskID | None = None
        self.agent_task: TaskID | None = None
        if bars is not None:
            self.task = bars.add_task("servers", total=0)

    def planned(self, units: int, step: str) -> None:
        if self.bars is not None and self.task is not None:
            total = self.bars.tasks[self.task].total or 0
            self.bars.update(self.task, total=total + units, description=f"servers: {step}")

    def done(self) -> None:
        if self.bars is not None and self.task is not None:
            self.bars.advance(self.task)

    def agents(self, step: str, done: int, total: int) -> None:
        """The agents search's callback (:data:`sim.sizing.agents.Progress`)."""
        if self.bars is None:
            return
        label = {"contacts": "agents: recording contacts",
                 "confirm": "agents: held-out days"}.get(step, f"agents: {step} step")
        if self.agent_task is None:
            self.agent_task = self.bars.add_task(label, total=None)
        self.bars.update(self.agent_task, description=label, completed=done,
                         total=total or None)


@contextlib.contextmanager
def search_progress(enabled: bool = True) -> Iterator[_Bar]:
    """Yields what :func:`~sim.sizing.servers.size_servers` and the agents report to."""
    if not enabled:
        yield _Bar(None)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("days"), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bars:
        yield _Bar(bars)
