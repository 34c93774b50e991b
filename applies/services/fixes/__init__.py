"""Manual fixes of an apply's state and lease: the only way the admin changes SchemaBot's rows.

Every fix is one short transaction on SchemaBot's database that:

1. locks the apply row (``SELECT … FOR UPDATE``) and compares it with what the person saw when
   they loaded the page (state, lease token, heartbeat). Anything different refuses the fix
   with ``RowChanged``: "the row changed since you loaded the page".
2. refuses what would break SchemaBot's invariants (``FixRefused``, nothing written):
   unregistered states; a second active apply on a target (moves into a non-terminal state
   take SchemaBot's target lock and re-check with it held, domain.md §3.4); ending a live
   driver's work (fresh heartbeat by the database clock) without ``confirm_live``; a terminal
   state its operations and tasks contradict (§2.4).
3. writes the apply, keeps its operations and tasks consistent, and appends exactly one
   ``apply_logs`` row (source ``ternadmin``) in the same transaction.

``updated_at`` is the heartbeat and MySQL refreshes it on every ``UPDATE`` that does not set
it: every write here sets it, to itself (pinned: a fix must not make a dead apply look alive)
or, with ``reset_heartbeat``, to the database's ``NOW()``.

A fix takes the apply away from whoever drives it: the lease is cleared, so a driver that is
still running loses it at its next lease-guarded write or heartbeat and stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from applies import db, states
from applies.dbclock import DbNow
from applies.models import Apply
from applies.redact import short_token
from applies.services.audit import audit
from applies.services.fixes.children import (
    COMPLETED_AT_STAYS_NULL,
    TASK_STATE_FOR_TERMINAL,
    check_children_agree,
    derived_state,
    finish_children,
    require_reappliable,
    retry_children,
)
from applies.services.fixes.rows import (
    FixRefused,
    LiveDriver,
    RowChanged,
    Seen,
    is_live,
    locked,
    require_confirmation,
    require_target_free,
    require_who_and_why,
    taken_from_driver,
    unlocked,
)
from applies.states import ApplyState
from applies.target_lock import TargetLockTimeout, target_lock
from applies.vocabulary import LogEvent, LogLevel

__all__ = [
    "COMPLETED_AT_STAYS_NULL",
    "TASK_STATE_FOR_TERMINAL",
    "FixRefused",
    "FixResult",
    "LiveDriver",
    "RowChanged",
    "Seen",
    "derived_state",
    "is_live",
    "mark_failed",
    "reapply_failed",
    "release_lease",
    "set_state",
]

A = ApplyState


@dataclass(frozen=True)
class FixResult:
    apply_id: int
    apply_identifier: str
    old_state: str
    new_state: str
    summary: str  # one line, for the success message and Django's LogEntry
    log_id: int
    operations: int = 0  # operation rows the fix moved
    tasks: int = 0  # task rows the fix moved


@dataclass
class _Change:
    """What one fix writes, and how it describes itself."""

    new_state: str
    apply_values: dict[str, Any]
    message: str
    what: str  # the change in a few words, for the summary
    event: LogEvent = LogEvent.STATE_TRANSITION
    children: Callable[[Apply], tuple[int, int]] | None = None
    details: dict[str, Any] = field(default_factory=dict)


# --- the fixes -----------------------------------------------------------------------------------


def set_state(
    apply_id: int,
    new_state: str,
    *,
    actor: str,
    reason: str,
    seen_state: str,
    seen_updated_at: datetime,
    seen_token: str,
    confirm_live: bool = False,
    reset_heartbeat: bool = False,
    error_message: str | None = None,
) -> FixResult:
    """Move the apply to ``new_state`` (a registered state), or raise ``FixRefused``.

    ``failed_retryable`` is SchemaBot's reapply and goes through ``reapply_failed``.
    """
    info = states.APPLY_STATES.get(new_state)
    if info is None:
        raise FixRefused(f"“{new_state}” is not a registered state; nothing was written.")
    require_who_and_why(actor, reason)
    seen = Seen(seen_state, seen_token, seen_updated_at, live_confirmed=confirm_live)
    if info.value == A.FAILED_RETRYABLE:  # SchemaBot's reapply: its heartbeat is always NOW()
        return reapply_failed(
            apply_id,
            actor=actor,
            reason=reason,
            seen_state=seen_state,
            seen_updated_at=seen_updated_at,
            seen_token=seen_token,
        )

    def change(row: Apply) -> _Change:
        if row.state == info.value:
            raise FixRefused(f"{row} is already {info.value}; nothing was written.")
        require_confirmation(row, confirm_live)
        values = taken_from_driver(reset_heartbeat)
        if info.terminal:
            check_children_agree(row, info.value)
            values["completed_at"] = None if info.value in COMPLETED_AT_STAYS_NULL else DbNow()
        else:
            values["completed_at"] = None
        if error_message is not None:
            values["error_message"] = error_message
        return _Change(
            new_state=info.value,
            apply_values=values,
            message=f"State fixed by hand: {row.state} → {info.value}",
            what=f"{row.state} → {info.value}",
            children=(lambda r: finish_children(r, info.value, reset_heartbeat))
            if info.terminal
            else None,
            details=_flags(row, confirm_live, reset_heartbeat),
        )

    return _fix(apply_id, seen, actor, reason, change, lock_target=not info.terminal)


def mark_failed(
    apply_id: int,
    *,
    actor: str,
    reason: str,
    seen_state: str,
    seen_updated_at: datetime,
    seen_token: str,
    confirm_live: bool = False,
    reset_heartbeat: bool = False,
) -> FixResult:
    """``failed``, with the reason as its error message; its unfinished children fail too."""
    return set_state(
        apply_id,
        A.FAILED,
        actor=actor,
        reason=reason,
        seen_state=seen_state,
        seen_updated_at=seen_updated_at,
        seen_token=seen_token,
        confirm_live=confirm_live,
        reset_heartbeat=reset_heartbeat,
        error_message=f"Marked failed by {actor}: {reason}",
    )


def reapply_failed(
    apply_id: int,
    *,
    actor: str,
    reason: str,
    seen_state: str,
    seen_updated_at: datetime,
    seen_token: str,
) -> FixResult:
    """SchemaBot's ``ReapplyFailed`` (#591): a recent ``failed`` apply back to the retry clause.

    As upstream (pkg/storage/mysqlstore/applies.go): only a ``failed`` apply that completed
    within ``TERNADMIN_RETRY_FRESHNESS_SECONDS``, with a deployment, none of whose operations
    was stopped, cancelled or reverted, and only while no other apply is active on its target
    (checked under the target lock). The apply becomes ``failed_retryable`` with ``attempt`` 0,
    no error, no lease, no ``completed_at`` and a heartbeat of ``NOW()`` (the retry clause
    counts freshness from it); its ``failed`` operations, and the failed or cancelled tasks of
    those operations (and tasks that belong to no operation), become ``failed_retryable`` with
    their errors cleared.
    """
    require_who_and_why(actor, reason)
    seen = Seen(seen_state, seen_token, seen_updated_at)

    def change(row: Apply) -> _Change:
        require_reappliable(row)
        values = taken_from_driver(reset_heartbeat=True)
        values.update(attempt=0, completed_at=None, error_message="")
        return _Change(
            new_state=A.FAILED_RETRYABLE,
            apply_values=values,
            message=f"Reapplied by hand: {A.FAILED} → {A.FAILED_RETRYABLE}, attempt reset to 0",
            what=f"reapplied ({A.FAILED} → {A.FAILED_RETRYABLE}, attempt 0)",
            children=retry_children,
            details=_flags(row, False, True) | {"previous_attempt": row.attempt},
        )

    return _fix(apply_id, seen, actor, reason, change, lock_target=True)


def release_lease(
    apply_id: int,
    *,
    actor: str,
    reason: str,
    seen_state: str,
    seen_updated_at: datetime,
    seen_token: str,
    confirm_live: bool = False,
) -> FixResult:
    """Clear the apply's lease (owner, token, acquired-at); state and heartbeat stay."""
    require_who_and_why(actor, reason)
    seen = Seen(seen_state, seen_token, seen_updated_at, live_confirmed=confirm_live)

    def change(row: Apply) -> _Change:
        if not row.lease_token:
            raise FixRefused(f"{row} holds no lease; nothing was written.")
        require_confirmation(row, confirm_live)
        return _Change(
            new_state=row.state,
            apply_values=taken_from_driver(reset_heartbeat=False),
            message=f"Lease of {row.lease_owner or 'an unnamed owner'} released by hand",
            what=f"lease released, still {row.state}",
            event=LogEvent.INFO,
            details=_flags(row, confirm_live, False),
        )

    return _fix(apply_id, seen, actor, reason, change, lock_target=False)


# --- the one transaction -------------------------------------------------------------------------


def _fix(
    apply_id: int,
    seen: Seen,
    actor: str,
    reason: str,
    change: Callable[[Apply], _Change],
    *,
    lock_target: bool,
) -> FixResult:
    """Lock, compare, decide, write and audit in one transaction (inside the target lock)."""
    if not lock_target:
        with db.atomic():
            return _apply_change(locked(apply_id, seen), actor, reason, change)
    target = unlocked(apply_id)
    try:
        with (
            target_lock(target.database_name, target.database_type, target.environment),
            db.atomic(),
        ):
            row = locked(apply_id, seen)
            require_target_free(row, target)
            return _apply_change(row, actor, reason, change)
    except TargetLockTimeout as error:
        raise FixRefused(f"{target}: {error}; nothing was written.") from error


def _apply_change(
    row: Apply, actor: str, reason: str, change: Callable[[Apply], _Change]
) -> FixResult:
    planned = change(row)
    written = Apply.objects.filter(pk=row.pk, state=row.state, lease_token=row.lease_token).update(
        state=planned.new_state, **planned.apply_values
    )
    if written != 1:  # only possible without row locks (SQLite): the row moved meanwhile
        raise RowChanged(f"{row} changed while the fix was being written; nothing was written.")
    operations, tasks = planned.children(row) if planned.children else (0, 0)
    details = planned.details | {"operations_moved": operations, "tasks_moved": tasks}
    log = audit(
        row.pk,
        actor=actor,
        message=planned.message,
        event=planned.event,
        level=LogLevel.WARN,
        old_state=row.state,
        new_state=planned.new_state,
        reason=reason,
        **details,
    )
    return FixResult(
        apply_id=row.pk,
        apply_identifier=row.apply_identifier,
        old_state=row.state,
        new_state=planned.new_state,
        summary=_summary(row, planned, operations, tasks),
        log_id=log.pk,
        operations=operations,
        tasks=tasks,
    )


def _flags(row: Apply, confirm_live: bool, reset_heartbeat: bool) -> dict[str, Any]:
    return {
        "heartbeat": "reset" if reset_heartbeat else "kept",
        "heartbeat_age_seconds": row.heartbeat_age,  # type: ignore[attr-defined]
        "confirmed_live": confirm_live and is_live(row),
        "released_lease_owner": row.lease_owner,
        "released_lease_token": short_token(row.lease_token),
    }


def _summary(row: Apply, planned: _Change, operations: int, tasks: int) -> str:
    parts = [f"{row}: {planned.what}"]
    if operations or tasks:
        parts.append(f"{operations} operation(s) and {tasks} task(s) moved with it")
    parts.append(
        "heartbeat reset" if planned.details.get("heartbeat") == "reset" else "heartbeat kept"
    )
    if row.lease_token:
        parts.append(f"lease of {row.lease_owner or 'an unnamed owner'} cleared")
    return "; ".join(parts) + "."
