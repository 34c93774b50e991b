"""Requesting a stop or a start: SchemaBot's control requests, written as an operator would.

One row per (apply, operation), reused: a completed or failed row is set back to pending;
while one is pending a new request is a no-op reported as "already pending" (upstream
pkg/storage/mysqlstore/control_requests.go; docs/schemabot.md, "Tables"). The apply's driver,
or the next claim, acts on it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError

from applies import db, states
from applies.dbclock import DbNow
from applies.models import Apply, ApplyControlRequest
from applies.services.actions.base import Action, ActionResult, check_seen, read_apply
from applies.services.audit import audit
from applies.services.errors import Refusal, Refused, require_who_and_why
from applies.services.seen import Seen
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, LogEvent, RequestStatus

STARTABLE_STATES = (ApplyState.STOPPED, ApplyState.WAITING_FOR_DEPLOY)
OPERATIONS = {Action.STOP: ControlOperation.STOP, Action.START: ControlOperation.START}


def stop_refusal(apply: Apply) -> str | None:
    """Why the apply cannot be asked to stop, or ``None``."""
    info = states.apply_state(apply.state)
    return f"{info.label} is terminal: there is nothing to stop" if info.terminal else None


def start_refusal(apply: Apply) -> str | None:
    """Why the apply cannot be asked to start, or ``None``."""
    if apply.state in STARTABLE_STATES:
        return None
    label = states.apply_state(apply.state).label
    return f"only stopped or waiting-for-deploy applies can be started; this one is {label}"


STATE_REFUSALS: dict[Action, Callable[[Apply], str | None]] = {
    Action.STOP: stop_refusal,
    Action.START: start_refusal,
}


def request_stop(apply_id: int, *, actor: str, reason: str, seen: Seen) -> ActionResult:
    """Ask the apply's driver to stop (a pending ``stop`` control request)."""
    return _request(apply_id, Action.STOP, actor, reason, seen)


def request_start(apply_id: int, *, actor: str, reason: str, seen: Seen) -> ActionResult:
    """Ask for a stopped (or deferred-deploy) apply to start: a claim clause then takes it."""
    return _request(apply_id, Action.START, actor, reason, seen)


def _request(apply_id: int, action: Action, actor: str, reason: str, seen: Seen) -> ActionResult:
    require_who_and_why(actor, reason)
    operation = OPERATIONS[action]
    with db.atomic():
        apply = read_apply(apply_id, lock=True)
        check_seen(apply, seen)
        refusal = STATE_REFUSALS[action](apply)
        if refusal is not None:
            raise Refused(refusal, code=Refusal.NOT_ALLOWED)
        if not _upsert_pending(apply_id, operation, actor):
            already = f"A {operation} request is already pending: nothing changed."
            return ActionResult.of(apply, action, already, changed=False)
        audit(
            apply_id,
            actor=actor,
            message=f"{operation.capitalize()} requested by operator",
            event=LogEvent.STOP_REQUESTED if action is Action.STOP else LogEvent.START_REQUESTED,
            old_state=apply.state,
            reason=reason,
        )
    done = f"{operation.capitalize()} requested for {apply.apply_identifier}."
    return ActionResult.of(apply, action, done)


def _upsert_pending(apply_id: int, operation: ControlOperation, actor: str) -> bool:
    """Make the (apply, operation) request pending; False when it already was."""
    requests = ApplyControlRequest.objects
    existing = requests.select_for_update().filter(apply_id=apply_id, operation=operation).first()
    if existing is not None:
        if existing.status == RequestStatus.PENDING:
            return False
        requests.filter(pk=existing.pk).update(
            status=RequestStatus.PENDING,
            requested_by=actor,
            error_message=None,
            completed_at=None,
            updated_at=DbNow(),
        )
        return True
    try:
        with db.atomic():
            requests.create(
                apply_id=apply_id,
                operation=operation,
                status=RequestStatus.PENDING,
                requested_by=actor,
                metadata={},
            )
    except IntegrityError:
        return False  # a concurrent request inserted the row first: it is pending now
    return True
