"""LocalScale's clock and deploy-request state machine, advanced lazily when a request is read.

No background thread: a deploy request stores the state and when it entered it; reading it
applies every transition that has come due since, each at the moment it was due. The clock is
the emulator's own (a fake remote service), not the database's: real time plus an offset an
admin call can move forward, with every duration divided by the time scale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from applies.engines.base import DeployRequestState, missing_statements
from localscale.models import Branch, Clock, DeployRequest

_DR = DeployRequestState
MAIN_BRANCH = "main"

# Durations at time scale 1, in seconds.
BRANCH_READY_SECONDS = 1.0
VALIDATION_SECONDS = 2.0  # pending → ready / no_changes / error
SUBMIT_SECONDS = 1.0  # submitting → in_progress
DEPLOY_SECONDS = 3.0  # in_progress → pending_cutover / complete_pending_revert
CUTOVER_SECONDS = 2.0  # in_progress_cutover → complete_pending_revert
REVERT_WINDOW_SECONDS = 30 * 60.0  # complete_pending_revert → complete
REVERT_SECONDS = 3.0  # in_progress_revert → complete_revert
CANCEL_SECONDS = 1.0  # in_progress_cancel → complete_cancel

# A deploy in one of these occupies its database: only one at a time (LocalScale's rule).
IN_FLIGHT_STATES: frozenset[str] = frozenset(
    {
        _DR.SUBMITTING,
        _DR.QUEUED,
        _DR.IN_PROGRESS,
        _DR.IN_PROGRESS_VSCHEMA,
        _DR.PENDING_CUTOVER,
        _DR.IN_PROGRESS_CUTOVER,
        _DR.IN_PROGRESS_REVERT,
        _DR.IN_PROGRESS_CANCEL,
    }
)


@dataclass(frozen=True)
class Reading:
    """The emulator clock, read once per call."""

    now: datetime
    time_scale: float

    def after(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=seconds / self.time_scale)


def read_clock() -> Reading:
    clock = Clock.objects.filter(pk=1).first() or Clock()
    scale = clock.time_scale or float(settings.LOCALSCALE_TIME_SCALE)
    return Reading(clock_now(clock), scale)


def clock_now(clock: Clock) -> datetime:
    base = clock.frozen_at or timezone.now()
    return base + timedelta(seconds=clock.offset_seconds)


def lint_errors(statements: list[str]) -> list[str]:
    """The emulator's linter: a statement saying INVALID is one PlanetScale would refuse."""
    return [
        f"statement {index} is not valid: {statement[:120]}"
        for index, statement in enumerate(statements, start=1)
        if "invalid" in statement.lower()
    ]


def _validated(dr: DeployRequest) -> str:
    if lint_errors(dr.statements):
        return _DR.ERROR
    return _DR.READY if dr.statements else _DR.NO_CHANGES


def _deployed(dr: DeployRequest) -> str:
    return _DR.COMPLETE_PENDING_REVERT if dr.auto_cutover else _DR.PENDING_CUTOVER


def _constant(state: str) -> Callable[[DeployRequest], str]:
    return lambda dr: state


_TIMED: Mapping[str, tuple[float, Callable[[DeployRequest], str]]] = {
    _DR.PENDING: (VALIDATION_SECONDS, _validated),
    _DR.SUBMITTING: (SUBMIT_SECONDS, _constant(_DR.IN_PROGRESS)),
    _DR.IN_PROGRESS: (DEPLOY_SECONDS, _deployed),
    _DR.IN_PROGRESS_CUTOVER: (CUTOVER_SECONDS, _constant(_DR.COMPLETE_PENDING_REVERT)),
    _DR.COMPLETE_PENDING_REVERT: (REVERT_WINDOW_SECONDS, _constant(_DR.COMPLETE)),
    _DR.IN_PROGRESS_REVERT: (REVERT_SECONDS, _constant(_DR.COMPLETE_REVERT)),
    _DR.IN_PROGRESS_CANCEL: (CANCEL_SECONDS, _constant(_DR.COMPLETE_CANCEL)),
}


def advance(dr: DeployRequest, reading: Reading) -> None:
    """Apply every transition of ``dr`` that has come due, and save it if any did."""
    changed = False
    while dr.state in _TIMED:
        seconds, next_state = _TIMED[dr.state]
        due = reading.after(dr.state_entered_at, seconds)
        if reading.now < due:
            break
        enter(dr, next_state(dr), due)
        changed = True
    if changed:
        dr.save()


def enter(dr: DeployRequest, state: str, at: datetime) -> None:
    """Move ``dr`` into ``state`` (unsaved), with the state's effect on the branches."""
    dr.state = state
    dr.state_entered_at = at
    effect = _EFFECTS.get(state)
    if effect is not None:
        effect(dr)


def _main(dr: DeployRequest) -> Branch:
    return Branch.objects.get(
        organization=dr.organization, database_name=dr.database_name, name=dr.into_branch
    )


def _deploy_into_main(dr: DeployRequest) -> None:
    # The cut-over schema is live: later branches start from it and later diffs see it.
    main = _main(dr)
    main.statements = main.statements + missing_statements(dr.statements, main.statements)
    main.save(update_fields=["statements"])


def _revert_main(dr: DeployRequest) -> None:
    main = _main(dr)
    main.statements = missing_statements(main.statements, dr.statements)
    main.save(update_fields=["statements"])


def _close_branch(dr: DeployRequest) -> None:
    if dr.auto_delete_branch:
        Branch.objects.filter(
            organization=dr.organization, database_name=dr.database_name, name=dr.branch
        ).delete()


_EFFECTS: Mapping[str, Callable[[DeployRequest], None]] = {
    _DR.COMPLETE_PENDING_REVERT: _deploy_into_main,
    _DR.COMPLETE_REVERT: _revert_main,
    _DR.COMPLETE: _close_branch,
}


def refresh_branch(branch: Branch, reading: Reading) -> Branch:
    """Mark a branch ready once its ready time has come (saved)."""
    if not branch.ready and reading.now >= branch.ready_at:
        branch.ready = True
        branch.save(update_fields=["ready"])
    return branch
