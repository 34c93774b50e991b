"""The fixes a person makes by hand: set a state, mark failed, reapply, release the lease.

Each decides, from the locked row, what it writes (a ``change.Change``) and refuses what would
break SchemaBot's invariants; ``change.run_fix`` does the rest in one transaction.
"""

from __future__ import annotations

from typing import Any

from applies import states
from applies.dbclock import DbNow
from applies.models import Apply
from applies.redact import short_token
from applies.services.errors import Refused, require_who_and_why
from applies.services.fixes.change import Change, FixResult, run_fix
from applies.services.fixes.children import (
    COMPLETED_AT_STAYS_NULL,
    check_children_agree,
    finish_children,
    require_reappliable,
    retry_children,
)
from applies.services.fixes.rows import is_live, require_confirmation, taken_from_driver
from applies.services.seen import Seen
from applies.states import ApplyState
from applies.vocabulary import LogEvent

A = ApplyState


def set_state(
    apply_id: int,
    new_state: str,
    *,
    actor: str,
    reason: str,
    seen: Seen,
    confirm_live: bool = False,
    reset_heartbeat: bool = False,
    error_message: str | None = None,
) -> FixResult:
    """Move the apply to ``new_state`` (a registered state), or raise ``Refused``.

    ``failed_retryable`` is SchemaBot's reapply and goes through ``reapply_failed``.
    """
    info = states.APPLY_STATES.get(new_state)
    if info is None:
        raise Refused(f"“{new_state}” is not a registered state; nothing was written.")
    require_who_and_why(actor, reason)
    if info.value == A.FAILED_RETRYABLE:  # SchemaBot's reapply: its heartbeat is always NOW()
        return reapply_failed(apply_id, actor=actor, reason=reason, seen=seen)

    def change(row: Apply) -> Change:
        if row.state == info.value:
            raise Refused(f"{row} is already {info.value}; nothing was written.")
        require_confirmation(row, confirm_live)
        values = taken_from_driver(reset_heartbeat)
        if info.terminal:
            check_children_agree(row, info.value)
            values["completed_at"] = None if info.value in COMPLETED_AT_STAYS_NULL else DbNow()
        else:
            values["completed_at"] = None
        if error_message is not None:
            values["error_message"] = error_message
        return Change(
            new_state=info.value,
            apply_values=values,
            message=f"State fixed by hand: {row.state} → {info.value}",
            what=f"{row.state} → {info.value}",
            children=(lambda r: finish_children(r, info.value, reset_heartbeat))
            if info.terminal
            else None,
            details=_flags(row, confirm_live, reset_heartbeat),
        )

    return run_fix(
        apply_id,
        seen,
        actor,
        reason,
        change,
        lock_target=not info.terminal,
        live_confirmed=confirm_live,
    )


def mark_failed(
    apply_id: int,
    *,
    actor: str,
    reason: str,
    seen: Seen,
    confirm_live: bool = False,
    reset_heartbeat: bool = False,
) -> FixResult:
    """``failed``, with the reason as its error message; its unfinished children fail too."""
    return set_state(
        apply_id,
        A.FAILED,
        actor=actor,
        reason=reason,
        seen=seen,
        confirm_live=confirm_live,
        reset_heartbeat=reset_heartbeat,
        error_message=f"Marked failed by {actor}: {reason}",
    )


def reapply_failed(apply_id: int, *, actor: str, reason: str, seen: Seen) -> FixResult:
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

    def change(row: Apply) -> Change:
        require_reappliable(row)
        values = taken_from_driver(reset_heartbeat=True)
        values.update(attempt=0, completed_at=None, error_message="")
        return Change(
            new_state=A.FAILED_RETRYABLE,
            apply_values=values,
            message=f"Reapplied by hand: {A.FAILED} → {A.FAILED_RETRYABLE}, attempt reset to 0",
            what=f"reapplied ({A.FAILED} → {A.FAILED_RETRYABLE}, attempt 0)",
            children=retry_children,
            details=_flags(row, False, True) | {"previous_attempt": row.attempt},
        )

    return run_fix(apply_id, seen, actor, reason, change, lock_target=True)


def release_lease(
    apply_id: int, *, actor: str, reason: str, seen: Seen, confirm_live: bool = False
) -> FixResult:
    """Clear the apply's lease (owner, token, acquired-at); state and heartbeat stay."""
    require_who_and_why(actor, reason)

    def change(row: Apply) -> Change:
        if not row.lease_token:
            raise Refused(f"{row} holds no lease; nothing was written.")
        require_confirmation(row, confirm_live)
        return Change(
            new_state=row.state,
            apply_values=taken_from_driver(reset_heartbeat=False),
            message=f"Lease of {row.lease_owner or 'an unnamed owner'} released by hand",
            what=f"lease released, still {row.state}",
            event=LogEvent.INFO,
            details=_flags(row, confirm_live, False),
        )

    return run_fix(
        apply_id, seen, actor, reason, change, lock_target=False, live_confirmed=confirm_live
    )


def _flags(row: Apply, confirm_live: bool, reset_heartbeat: bool) -> dict[str, Any]:
    return {
        "heartbeat": "reset" if reset_heartbeat else "kept",
        "heartbeat_age_seconds": row.heartbeat_age,  # type: ignore[attr-defined]
        "confirmed_live": confirm_live and is_live(row),
        "released_lease_owner": row.lease_owner,
        "released_lease_token": short_token(row.lease_token),
    }
