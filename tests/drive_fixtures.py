"""Drives of claimed applies, and scripted drivers to step them (no engine involved)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from applies.claims import claim_apply
from applies.drives import record_drive
from applies.engines import Drivers
from applies.engines.base import Driver, Fence, Next
from applies.leases import Lease
from applies.models import Drive
from tests.claim_fixtures import make_apply

Script = Callable[[int, Lease], Next]  # (apply id, lease) -> what the step says
_running = threading.local()  # the fence of the step running on this thread


def claimed_drive(state: str = "running", *, on_loops: bool = True, **fields: Any) -> Drive:
    """A stale apply in ``state``, claimed by id, and its drive (due now on the loops, or queued
    for a foreground runner)."""
    apply = make_apply(state, **fields)
    claim = claim_apply(apply.pk, "node-t/1/sweep", engines=["planetscale"])
    assert claim is not None
    return record_drive(claim, trigger="test", on_loops=on_loops)


@dataclass
class ScriptedDriver:
    apply_id: int
    script: Script
    steps: list[tuple[int, str]]  # shared log of (apply id, token) per step

    def step(self, lease: Lease, *, still_mine: Fence) -> Next:
        self.steps.append((self.apply_id, lease.token))
        _running.fence = still_mine
        return self.script(self.apply_id, lease)

    def close(self) -> None:
        pass


@dataclass
class ScriptedFactory:
    """A ``DriverFactory`` whose drivers follow ``script``; records every step."""

    script: Script
    steps: list[tuple[int, str]] = field(default_factory=list)
    closed: bool = False

    def driver(self, apply_id: int) -> Driver:
        return ScriptedDriver(apply_id, self.script, self.steps)

    def close(self) -> None:
        self.closed = True

    def drivers(self) -> Drivers:
        return Drivers({"planetscale": self})


def still_mine() -> bool:
    """Asked by a script: whether the step it runs (on this thread) still holds its drive, as
    a real driver asks before an engine call that creates something."""
    fence: Fence = _running.fence
    return fence()


def sequence(*outcomes: Next) -> Script:
    """Each apply's steps answer ``outcomes`` in turn (the last one repeats)."""
    seen: dict[int, int] = {}
    lock = threading.Lock()

    def script(apply_id: int, lease: Lease) -> Next:
        with lock:
            n = seen.get(apply_id, 0)
            seen[apply_id] = n + 1
        return outcomes[min(n, len(outcomes) - 1)]

    return script


def raising(error: BaseException) -> Script:
    def script(apply_id: int, lease: Lease) -> Next:
        raise error

    return script


def drive_row(drive: Drive) -> Drive:
    return Drive.objects.get(pk=drive.pk)
