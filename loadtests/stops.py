"""Why a drill stopped: drill.json's ``stop``, beside the sentence for people
(``stopped_because``). Verdicts read this, never the sentence."""

from __future__ import annotations

from enum import StrEnum


class Stop(StrEnum):
    COMPLETED = "completed"
    """The schedule ran and every visit finished."""
    GRACEFUL_STOP = "graceful_stop"
    """The schedule ran; visits still walking after ``drill.graceful_stop`` were stopped."""
    DURATION_CAP = "duration_cap"
    """``drill.max_duration`` reached."""
    REQUEST_CAP = "request_cap"
    """``drill.max_requests`` reached."""
    ERROR_RATE_ABORT = "error_rate_abort"
    """``drill.abort``: the target failed too many requests for too long."""
    WORKER_REFUSED = "worker_refused"
    """A worker would not load the master's target (off its own allow-list)."""
    INTERRUPTED = "interrupted"
    """Ctrl-C: what ran is still written and judged."""

    @property
    def aborted(self) -> bool:
        """Stopped by a safety rule before the schedule was done: the drill cannot pass."""
        return self in ABORTS


ABORTS = frozenset({Stop.DURATION_CAP, Stop.REQUEST_CAP, Stop.ERROR_RATE_ABORT,
                    Stop.WORKER_REFUSED})
