"""An apply's operations and tasks follow a fix of the apply (docs/schemabot.md, "Deriving an
apply's state")."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db.models import Q

from applies import states
from applies.dbclock import DbNow
from applies.durations import duration
from applies.models import Apply, ApplyOperation, Task
from applies.services.errors import Refused
from applies.services.fixes.rows import taken_from_driver
from applies.states import ApplyState, TaskState

A = ApplyState

# SchemaBot keeps completed_at NULL for these (docs/schemabot.md, "Tables"): stopped can be
# started again, failed_retryable will be retried.
COMPLETED_AT_STAYS_NULL = (A.STOPPED, A.FAILED_RETRYABLE)

# The task state that matches a terminal apply state, for the apply's unfinished tasks.
TASK_STATE_FOR_TERMINAL: dict[str, str] = {
    A.COMPLETED: TaskState.COMPLETED,
    A.FAILED: TaskState.FAILED,
    A.CANCELLED: TaskState.CANCELLED,
    A.REVERTED: TaskState.REVERTED,
    A.STOPPED: TaskState.STOPPED,
}

# SchemaBot's DeriveApplyState (docs/schemabot.md, "Deriving an apply's state"), rules 1-5: the
# first of these any child is in decides the apply's state; rule 6: all completed is completed.
_DERIVE_ANY = (A.FAILED, A.FAILED_RETRYABLE, A.CANCELLED, A.STOPPED, A.REVERTED)


def derived_state(values: Collection[str]) -> str | None:
    """The terminal state SchemaBot derives from these terminal child states (rules 1-6).

    ``None`` when the rules would not give a terminal state.
    """
    for state in _DERIVE_ANY:
        if state in values:
            return state.value
    if values and all(value == A.COMPLETED for value in values):
        return A.COMPLETED.value
    return None


def check_children_agree(row: Apply, new_state: str) -> None:
    """Refuse a terminal state that the apply's finished children contradict."""
    task_state = TASK_STATE_FOR_TERMINAL[new_state]
    operations = set(ApplyOperation.objects.filter(apply_id=row.pk).values_list("state", flat=True))
    tasks = set(Task.objects.filter(apply_id=row.pk).values_list("state", flat=True))
    after = {
        "operations": {s if s in states.TERMINAL_APPLY_STATES else new_state for s in operations},
        "tasks": {s if s in states.TERMINAL_TASK_STATES else task_state for s in tasks},
    }
    for kind, values in after.items():
        derived = derived_state(values)
        if values and derived != new_state:
            others = ", ".join(sorted(values - {new_state, task_state}))
            raise Refused(
                f"{row} cannot be {new_state}: its {kind} include {others}, and SchemaBot "
                f"derives an apply's state from its children ({derived or 'not terminal'}). "
                "Nothing was written."
            )


def finish_children(row: Apply, new_state: str, reset_heartbeat: bool) -> tuple[int, int]:
    """Move the unfinished operations and tasks of an apply that became terminal with it."""
    completed_at = None if new_state in COMPLETED_AT_STAYS_NULL else DbNow()
    operations = (
        ApplyOperation.objects.filter(apply_id=row.pk)
        .exclude(state__in=states.TERMINAL_APPLY_STATES)
        .update(state=new_state, completed_at=completed_at, **taken_from_driver(reset_heartbeat))
    )
    task_state = TASK_STATE_FOR_TERMINAL[new_state]
    task_values: dict[str, Any] = {"state": task_state, "updated_at": DbNow()}
    if task_state in states.TERMINAL_TASK_STATES:
        task_values["completed_at"] = DbNow()
    tasks = (
        Task.objects.filter(apply_id=row.pk)
        .exclude(state__in=states.TERMINAL_TASK_STATES)
        .exclude(state=task_state)
        .update(**task_values)
    )
    return operations, tasks


# Operations a reapply refuses: their work was deliberately ended, not failed (upstream
# rejectNonReappliableOperations).
_NOT_REAPPLIABLE = (A.STOPPED, A.CANCELLED, A.REVERTED)


def require_reappliable(row: Apply) -> None:
    """Refuse what SchemaBot's ``ReapplyFailed`` refuses; nothing is written."""
    if row.state != A.FAILED:
        raise Refused(f"Only a failed apply can be reapplied; {row} is {row.state}.")
    if row.completed_at is None:
        raise Refused(
            f"{row} has no failure completion time: SchemaBot does not reapply it; create a "
            "new apply instead. Nothing was written."
        )
    if not row.completed_recently:  # type: ignore[attr-defined]
        window = duration(settings.TERNADMIN_RETRY_FRESHNESS_SECONDS)
        raise Refused(
            f"{row} did not fail within the last {window} (completed_at {row.completed_at}): "
            "SchemaBot reapplies only recent failures. Nothing was written."
        )
    if not row.deployment:
        raise Refused(
            f"{row} has no deployment: SchemaBot reapplies only an apply whose target is "
            "complete; create a new apply instead. Nothing was written."
        )
    ended = ApplyOperation.objects.filter(apply_id=row.pk, state__in=_NOT_REAPPLIABLE).count()
    if ended:
        raise Refused(
            f"{row} has {ended} stopped, cancelled or reverted operation(s): SchemaBot does "
            "not reapply it; create a new apply instead. Nothing was written."
        )


def retry_children(row: Apply) -> tuple[int, int]:
    """Failed operations, and the failed or cancelled tasks they own (or that belong to no
    operation), back to retryable with their errors cleared and a fresh heartbeat."""
    failed = ApplyOperation.objects.filter(apply_id=row.pk, state=A.FAILED)
    failed_ids = list(failed.values_list("pk", flat=True))
    tasks = (
        Task.objects.filter(apply_id=row.pk, state__in=(TaskState.FAILED, TaskState.CANCELLED))
        .filter(Q(apply_operation_id__in=failed_ids) | Q(apply_operation_id__isnull=True))
        .update(
            state=TaskState.FAILED_RETRYABLE,
            error_message=None,
            completed_at=None,
            updated_at=DbNow(),
        )
    )
    operations = failed.update(
        state=A.FAILED_RETRYABLE,
        error_message=None,
        completed_at=None,
        **taken_from_driver(reset_heartbeat=True),
    )
    return operations, tasks
