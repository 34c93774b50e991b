"""Operator actions on an apply: reclaim, request stop, request start, bulk reclaim.

Every action carries what the operator saw (the apply's state and its lease token, shortened)
and is refused, changing nothing, when either differs now: the driver came back, or the apply
moved on, since the page was loaded. Each runs in one transaction on SchemaBot's database with
the apply row locked, and writes one ``apply_logs`` row (source ``ternadmin``, who, why) with
the change it describes.

- ``reclaim``: claim the apply by id with exactly the sweep's rules (``claims.claim_apply``),
  then hand the claim to the recovery driver (``drives.launch_drive``) after the commit, so no
  lock is held while a drive starts.
- ``request_stop`` / ``request_start``: SchemaBot's control requests (domain.md §1.5): one row
  per (apply, operation), reused; a completed or failed row is reset to pending; while one is
  pending a new request is a no-op reported as "already pending".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from applies import states
from applies.claims import ApplyClaim, claim_apply
from applies.classify import Verdict, classify, duration
from applies.dbclock import DbNow
from applies.drives import launch_drive
from applies.engines import driven_engines, drives_engine, not_driven_reason
from applies.lines import current_line
from applies.models import Apply, ApplyControlRequest, ApplyOperation
from applies.redact import short_token
from applies.services.audit import audit
from applies.states import ApplyState
from applies.target_lock import other_active_apply_exists, target_lock
from applies.vocabulary import ControlOperation, LogEvent, RequestStatus

logger = logging.getLogger(__name__)

CONSOLE_TRIGGER = "console"
STARTABLE_STATES = (ApplyState.STOPPED, ApplyState.WAITING_FOR_DEPLOY)


class Action(StrEnum):
    RECLAIM = "reclaim"
    STOP = "stop"
    START = "start"


class Refusal(StrEnum):
    """Why an action was refused; the API maps these to status codes."""

    NOT_FOUND = "not_found"
    CHANGED = "changed"  # state or lease differ from what the operator saw
    NOT_ALLOWED = "not_allowed"  # the action makes no sense in this state
    NO_DRIVER = "no_driver"
    NOT_CLAIMABLE = "not_claimable"
    INVALID = "invalid"  # missing reason or actor


class ActionRefused(Exception):
    """The action was not taken and nothing was written; ``message`` says why, for people."""

    def __init__(self, message: str, *, code: Refusal = Refusal.NOT_ALLOWED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ActionResult:
    apply_id: int
    action: Action
    ok: bool
    message: str
    state: str = ""  # the apply's state afterwards
    lease: str = ""  # the apply's lease token afterwards, shortened
    drive_id: int | None = None
    changed: bool = True  # False for a request that was already pending
    refusal: Refusal | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["refusal"] = self.refusal.value if self.refusal else None
        return data


@dataclass(frozen=True)
class ReclaimItem:
    """One apply of a bulk reclaim, with what the operator saw of it."""

    apply_id: int
    seen_state: str
    seen_token: str


def console_owner(actor: str) -> str:
    """The lease owner of a claim made from the console."""
    return f"ternadmin-console/{actor}"[:255]


def _db() -> str:
    return str(settings.SCHEMABOT_DATABASE)


def _require(actor: str, reason: str) -> None:
    if not actor.strip():
        raise ActionRefused("an action needs the name of who takes it", code=Refusal.INVALID)
    if not reason.strip():
        raise ActionRefused(
            "give a reason: it goes into the apply's timeline", code=Refusal.INVALID
        )


def _read(apply_id: int, *, lock: bool = False) -> Apply:
    queryset = Apply.objects.using(_db()).filter(pk=apply_id)
    if lock:
        queryset = queryset.select_for_update()
    apply = queryset.first()
    if apply is None:
        raise ActionRefused(f"there is no apply with id {apply_id}", code=Refusal.NOT_FOUND)
    return apply


def check_seen(apply: Apply, seen_state: str, seen_token: str) -> None:
    """Refuse unless the apply's state and (shortened) lease token are what the operator saw."""
    if short_token(apply.lease_token) != short_token(seen_token):
        holder = f" by {apply.lease_owner}" if apply.lease_owner else ""
        raise ActionRefused(
            "the driver came back: the lease changed since you loaded the page (now "
            f"{short_token(apply.lease_token) or 'none'}{holder}, state {apply.state}); "
            "reload and decide again",
            code=Refusal.CHANGED,
        )
    if apply.state != seen_state:
        raise ActionRefused(
            f"the apply moved on: it is {apply.state} now, you saw {seen_state or 'no state'}; "
            "reload and decide again",
            code=Refusal.CHANGED,
        )


@contextmanager
def _locked(apply: Apply) -> Iterator[None]:
    """A transaction on SchemaBot's database; a stopped apply's target lock is taken first.

    Restarting a stopped apply must commit under SchemaBot's target lock (domain.md §3.4).
    ``claim_apply`` takes it too; MariaDB/MySQL named locks nest within a session, so holding
    it here keeps it until after the commit, and the lock order (named lock, then row) is
    SchemaBot's.
    """
    stopped = apply.state == ApplyState.STOPPED
    guard = (
        target_lock(apply.database_name, apply.database_type, apply.environment)
        if stopped
        else nullcontext()
    )
    with guard, transaction.atomic(using=_db()):
        yield


# --- Reclaim ---------------------------------------------------------------------------------


def reclaim(
    apply_id: int, *, actor: str, seen_state: str, seen_token: str, reason: str
) -> ActionResult:
    """Claim the apply now, as the sweep would, and start its recovery drive.

    Raises ``ActionRefused`` (nothing written) when the apply is missing, changed since the
    operator saw it, of an engine ternadmin cannot drive, or not claimable now.
    """
    _require(actor, reason)
    seen = _read(apply_id)
    check_seen(seen, seen_state, seen_token)
    if not drives_engine(seen.engine):
        raise ActionRefused(not_driven_reason(seen.engine), code=Refusal.NO_DRIVER)
    operations = ApplyOperation.objects.using(_db()).filter(apply_id=apply_id)
    if len(operations.values_list("pk", flat=True)[:2]) > 1:
        raise ActionRefused(
            "ternadmin has no driver for a multi-operation apply: SchemaBot's own operator "
            "claims it",
            code=Refusal.NO_DRIVER,
        )
    with _locked(seen):
        check_seen(_read(apply_id, lock=True), seen_state, seen_token)
        claim = claim_apply(apply_id, console_owner(actor), engines=driven_engines())
        if claim is None:
            raise ActionRefused(_why_not_claimable(apply_id), code=Refusal.NOT_CLAIMABLE)
        token = short_token(claim.lease.token)
        audit(
            apply_id,
            actor=actor,
            message=f"Reclaimed by operator from {claim.previous_state}",
            event=LogEvent.INFO,
            old_state=claim.previous_state,
            new_state=claim.apply.state,
            reason=reason,
            new_lease=token,
            clause=claim.clause.value,
            owner=claim.lease.owner,
        )
    return _drive(claim, actor, token)


def _why_not_claimable(apply_id: int) -> str:
    apply = _read(apply_id)
    verdict = classify(apply)
    if verdict.classification is Verdict.HEALTHY and current_line().claimable(apply.state):
        left = verdict.claimable_in_seconds
        return (
            f"heartbeat is fresh ({duration(verdict.heartbeat_age_seconds)}): a driver holds it; "
            f"if it stops, it becomes claimable in {duration(left)}"
        )
    if apply.state == ApplyState.STOPPED and other_active_apply_exists(apply, current_line()):
        return (
            "start refused: another active apply exists for "
            f"{apply.database_name}/{apply.database_type}/{apply.environment}"
        )
    if verdict.classification is Verdict.CLAIMABLE_NOW:
        return "another claimer holds the row right now; reload in a moment"
    return f"not claimable now: {verdict.reason}"


def _drive(claim: ApplyClaim, actor: str, token: str) -> ActionResult:
    apply = claim.apply
    done = f"Reclaimed {apply.apply_identifier} from {claim.previous_state} (lease {token})"
    try:
        drive = launch_drive(claim, trigger=CONSOLE_TRIGGER, requested_by=actor)
    except Exception as exc:
        # The claim stands; without a drive its heartbeat goes stale and the sweep takes it.
        logger.exception("could not start the drive of apply %s", apply.pk)
        return ActionResult(
            apply.pk,
            Action.RECLAIM,
            True,
            f"{done}, but its drive could not be started ({exc}); the sweep will reclaim it "
            "once its heartbeat is stale.",
            state=apply.state,
            lease=token,
        )
    return ActionResult(
        apply.pk,
        Action.RECLAIM,
        True,
        f"{done}; recovery drive {drive.pk} started.",
        state=apply.state,
        lease=token,
        drive_id=drive.pk,
    )


def bulk_reclaim(items: Iterable[ReclaimItem], *, actor: str, reason: str) -> list[ActionResult]:
    """Reclaim each apply on its own (each atomic); refusals are reported, not raised."""
    results = []
    for item in items:
        try:
            results.append(
                reclaim(
                    item.apply_id,
                    actor=actor,
                    seen_state=item.seen_state,
                    seen_token=item.seen_token,
                    reason=reason,
                )
            )
        except ActionRefused as refused:
            results.append(
                ActionResult(
                    item.apply_id, Action.RECLAIM, False, refused.message, refusal=refused.code
                )
            )
    return results


# --- Control requests ------------------------------------------------------------------------


def request_stop(
    apply_id: int, *, actor: str, seen_state: str, seen_token: str, reason: str
) -> ActionResult:
    """Ask the apply's driver to stop (a pending ``stop`` control request)."""
    return _request(apply_id, Action.STOP, actor, seen_state, seen_token, reason)


def request_start(
    apply_id: int, *, actor: str, seen_state: str, seen_token: str, reason: str
) -> ActionResult:
    """Ask for a stopped (or deferred-deploy) apply to start: a claim clause then takes it."""
    return _request(apply_id, Action.START, actor, seen_state, seen_token, reason)


def _check_allowed(apply: Apply, action: Action) -> None:
    info = states.apply_state(apply.state)
    if action is Action.STOP and info.terminal:
        raise ActionRefused(f"{info.label} is terminal: there is nothing to stop")
    if action is Action.START and apply.state not in STARTABLE_STATES:
        raise ActionRefused(
            f"only stopped or waiting-for-deploy applies can be started; this one is {info.label}"
        )


def _request(
    apply_id: int, action: Action, actor: str, seen_state: str, seen_token: str, reason: str
) -> ActionResult:
    _require(actor, reason)
    operation = ControlOperation.STOP if action is Action.STOP else ControlOperation.START
    with transaction.atomic(using=_db()):
        apply = _read(apply_id, lock=True)
        check_seen(apply, seen_state, seen_token)
        _check_allowed(apply, action)
        if not _upsert_pending(apply_id, operation, actor):
            return ActionResult(
                apply_id,
                action,
                True,
                f"A {operation} request is already pending: nothing changed.",
                state=apply.state,
                lease=short_token(apply.lease_token),
                changed=False,
            )
        audit(
            apply_id,
            actor=actor,
            message=f"{operation.capitalize()} requested by operator",
            event=LogEvent.STOP_REQUESTED if action is Action.STOP else LogEvent.START_REQUESTED,
            old_state=apply.state,
            reason=reason,
        )
    return ActionResult(
        apply_id,
        action,
        True,
        f"{operation.capitalize()} requested for {apply.apply_identifier}.",
        state=apply.state,
        lease=short_token(apply.lease_token),
    )


def _upsert_pending(apply_id: int, operation: ControlOperation, actor: str) -> bool:
    """Make the (apply, operation) request pending; False when it already was."""
    requests = ApplyControlRequest.objects.using(_db())
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
        with transaction.atomic(using=_db()):
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
