"""``expire_retryable()``: retries that ran out become ``failed`` (upstream ``ExpireRetryable``).

A ``failed_retryable`` apply that has used its retry budget, or whose last retry is older than
the freshness window, will never be claimed again. SchemaBot terminalizes such applies at the
start of every operator tick; ternadmin's sweep does the same, in one short transaction, with
the writes of the configured line (``applies.lines``):

- b2349ea: the apply's unfinished tasks become ``failed``, the apply ``failed``;
- current: tasks still ``pending`` never ran and become ``cancelled``, the other unfinished ones
  ``failed``; its ``failed_retryable`` operation rows become ``failed`` (#485).

On both lines every ``completed_at`` keeps an earlier value (``COALESCE(completed_at, NOW())``,
upstream ``pkg/storage/mysqlstore/applies.go`` before and after #485).

plus one ``apply_logs`` row per apply saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q
from django.db.models.functions import Coalesce

from applies import db
from applies.dbclock import DbNow, SecondsAgo
from applies.lines import current_line
from applies.models import Apply, ApplyLog, ApplyOperation, Task
from applies.states import TERMINAL_TASK_STATES, ApplyState, TaskState
from applies.vocabulary import LogEvent, LogLevel, LogSource
from applies.windows import Windows


class ExpiryReason(StrEnum):
    RETRY_BUDGET_EXHAUSTED = "retry_budget_exhausted"
    RECOVERY_WINDOW_EXPIRED = "recovery_window_expired"


@dataclass(frozen=True)
class Expired:
    apply_id: int
    apply_identifier: str
    reason: ExpiryReason


def expire_retryable(*, dry_run: bool = False, windows: Windows | None = None) -> list[Expired]:
    """Fail every out-of-budget or out-of-window retryable apply; the list of what expired."""
    windows = windows or Windows.from_settings()
    due = Apply.objects.filter(
        Q(attempt__gte=windows.retry_budget)
        | Q(updated_at__lt=SecondsAgo(windows.retry_freshness)),
        state=ApplyState.FAILED_RETRYABLE,
    )
    if dry_run:
        return [_expired(apply, windows) for apply in due.only("id", "apply_identifier", "attempt")]
    with db.atomic():
        rows = list(due.select_for_update().only("id", "apply_identifier", "attempt"))
        if not rows:
            return []
        expired = [_expired(apply, windows) for apply in rows]
        _terminalize([e.apply_id for e in expired])
        ApplyLog.objects.bulk_create(_log_row(e) for e in expired)
    return expired


def _expired(apply: Apply, windows: Windows) -> Expired:
    reason = (
        ExpiryReason.RETRY_BUDGET_EXHAUSTED
        if apply.attempt >= windows.retry_budget
        else ExpiryReason.RECOVERY_WINDOW_EXPIRED
    )
    return Expired(apply.pk, apply.apply_identifier, reason)


def _terminalize(apply_ids: list[int]) -> None:
    line = current_line()
    finished = Coalesce("completed_at", DbNow())
    tasks = Task.objects.filter(apply_id__in=apply_ids)
    if line.expiry_cancels_pending_tasks:
        tasks.filter(state=TaskState.PENDING).update(
            state=TaskState.CANCELLED, completed_at=finished, updated_at=DbNow()
        )
    tasks.exclude(state__in=TERMINAL_TASK_STATES).update(
        state=TaskState.FAILED, completed_at=finished, updated_at=DbNow()
    )
    if line.expiry_fails_operations:
        ApplyOperation.objects.filter(
            apply_id__in=apply_ids, state=ApplyState.FAILED_RETRYABLE
        ).update(state=ApplyState.FAILED, completed_at=finished, updated_at=DbNow())
    Apply.objects.filter(pk__in=apply_ids, state=ApplyState.FAILED_RETRYABLE).update(
        state=ApplyState.FAILED,
        completed_at=finished,
        updated_at=DbNow(),
    )


def _log_row(expired: Expired) -> ApplyLog:
    words = {
        ExpiryReason.RETRY_BUDGET_EXHAUSTED: "its retry budget is exhausted",
        ExpiryReason.RECOVERY_WINDOW_EXPIRED: "its recovery window expired",
    }[expired.reason]
    return ApplyLog(
        apply_id=expired.apply_id,
        level=LogLevel.WARN,
        event_type=LogEvent.STATE_TRANSITION,
        source=LogSource.TERNADMIN,
        message=f"Retry expired: {words} ({expired.reason})",
        old_state=ApplyState.FAILED_RETRYABLE,
        new_state=ApplyState.FAILED,
        metadata={"reason": expired.reason.value},
    )
