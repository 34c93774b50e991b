"""The protocol between a drive and an engine driver, and the errors every engine call raises.

A driver is a *step function*: given an apply's persisted state (re-read from the database on
every call), it performs exactly one engine step or one poll, persists what it learned under
the drive's lease, and says what should happen next (``Next``). Whatever runs the steps (the
drive loops, or a foreground runner such as ``manage.py recover``: ``applies.drives``) only
follows that answer, so a crash anywhere is just the next step running again from persisted
state.

The lease fences every database write, but not an engine call: a step whose runner stalled can
be taken over by another runner under the same lease. So a step asks ``still_mine()`` right
before every engine call that creates or changes something, and stops (``StepSuperseded``)
when it no longer holds its drive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from applies.leases import Lease
from applies.states import ApplyState


class EngineError(Exception):
    """Anything an engine call can fail with. Messages never carry credentials."""


class EngineUnavailable(EngineError):
    """Transient: 5xx, 429 or a transport error that outlasted the retries. Try again later."""


class EngineAccessDenied(EngineError):
    """401/403, or a 404 for the database itself: ternadmin's own credentials or organization
    do not reach it. Not the apply's fault, so never a reason to fail it or to forget what was
    persisted: the step is handed back and tried again."""


class EngineRejected(EngineError):
    """The engine refused the call (4xx) or its answer rules the step out. Not transient."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EngineNotFound(EngineRejected):
    """404: the branch, password or deploy request does not exist (any more)."""


class EngineConflict(EngineRejected):
    """409: the engine's state forbids the call now (already deployed, name taken, …)."""


class StepSuperseded(Exception):
    """The step no longer holds its drive (another runner took it, or it ended): it issues
    nothing more, and whatever it would say is not written."""


# Whether the running step still holds its drive; asked right before an engine call that
# creates or changes something (see the module docstring).
Fence = Callable[[], bool]


class CorruptResumeState(ValueError):
    """Persisted engine resume metadata that cannot be read: it is looked up by name instead."""


class Then(StrEnum):
    """What a runner does after a step."""

    CONTINUE = "continue"  # run the next step now
    POLL = "poll"  # run the next step after ``delay`` seconds
    FINISHED = "finished"  # the apply reached ``state``; the drive is over
    FAILED = "failed"  # the apply was failed with ``message``; the drive is over
    LEASE_LOST = "lease_lost"  # another driver holds the apply: write nothing more
    HANDED_BACK = "handed_back"  # left as it is, claimable again once stale (``message``)


@dataclass(frozen=True)
class Next:
    then: Then
    delay: float = 0.0
    state: str = ""
    message: str = ""


def run_now() -> Next:
    return Next(Then.CONTINUE)


def poll_after(seconds: float) -> Next:
    return Next(Then.POLL, delay=seconds)


def finished(state: str) -> Next:
    return Next(Then.FINISHED, state=state, message=f"reached {state}")


def failed(message: str) -> Next:
    return Next(Then.FAILED, state=ApplyState.FAILED, message=message)


def lease_lost(message: str = "the lease was taken by another driver") -> Next:
    return Next(Then.LEASE_LOST, message=message)


def handed_back(message: str) -> Next:
    return Next(Then.HANDED_BACK, message=message)


class Driver(Protocol):
    """One engine's step function (see the module docstring)."""

    def step(self, lease: Lease, *, still_mine: Fence) -> Next: ...

    def close(self) -> None: ...
