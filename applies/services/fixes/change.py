"""The one transaction every fix runs in: lock, compare, decide, write, audit.

A fix says what it writes as a ``Change``, decided from the locked row; ``run_fix`` locks the
row (inside SchemaBot's target lock when the fix may make the apply active), compares it with
what the person saw, writes the apply with a compare-and-set, moves its children, appends one
``apply_logs`` row and answers a ``FixResult``, all in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from applies import db
from applies.models import Apply
from applies.services.audit import audit
from applies.services.errors import Refused, RowChanged
from applies.services.fixes.rows import locked, require_target_free, unlocked
from applies.services.seen import Seen
from applies.target_lock import TargetLockTimeout, target_lock
from applies.vocabulary import LogEvent, LogLevel


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
class Change:
    """What one fix writes, and how it describes itself."""

    new_state: str
    apply_values: dict[str, Any]
    message: str
    what: str  # the change in a few words, for the summary
    event: LogEvent = LogEvent.STATE_TRANSITION
    children: Callable[[Apply], tuple[int, int]] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def run_fix(
    apply_id: int,
    seen: Seen,
    actor: str,
    reason: str,
    change: Callable[[Apply], Change],
    *,
    lock_target: bool,
    live_confirmed: bool = False,
) -> FixResult:
    """Lock, compare, decide, write and audit in one transaction (inside the target lock)."""
    if not lock_target:
        with db.atomic():
            row = locked(apply_id, seen, live_confirmed=live_confirmed)
            return _write(row, actor, reason, change)
    target = unlocked(apply_id)
    try:
        with (
            target_lock(target.database_name, target.database_type, target.environment),
            db.atomic(),
        ):
            row = locked(apply_id, seen, live_confirmed=live_confirmed)
            require_target_free(row, target)
            return _write(row, actor, reason, change)
    except TargetLockTimeout as error:
        raise Refused(f"{target}: {error}; nothing was written.") from error


def _write(row: Apply, actor: str, reason: str, change: Callable[[Apply], Change]) -> FixResult:
    planned = change(row)
    unchanged = Apply.objects.filter(pk=row.pk, state=row.state, lease_token=row.lease_token)
    written = unchanged.update(state=planned.new_state, **planned.apply_values)
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


def _summary(row: Apply, planned: Change, operations: int, tasks: int) -> str:
    parts = [f"{row}: {planned.what}"]
    if operations or tasks:
        parts.append(f"{operations} operation(s) and {tasks} task(s) moved with it")
    parts.append(
        "heartbeat reset" if planned.details.get("heartbeat") == "reset" else "heartbeat kept"
    )
    if row.lease_token:
        parts.append(f"lease of {row.lease_owner or 'an unnamed owner'} cleared")
    return "; ".join(parts) + "."
