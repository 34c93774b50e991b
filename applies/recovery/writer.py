"""Every write a drive makes: lease-guarded, one short transaction each, logged like SchemaBot.

The apply row is written first with ``WHERE lease_token = <ours>``; if that matches nothing the
lease is lost and the transaction rolls back, so the operation row, tasks and log row of the
same step are never written without it; a timeline row on its own is guarded the same way.
Operation and task rows are guarded through their parent (SchemaBot's apply-lease guard,
upstream pkg/storage/mysqlstore/tasks.go).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from applies import db
from applies.dbclock import now_sql
from applies.leases import Lease, guarded_update
from applies.lines import current_line
from applies.models import ApplyLog
from applies.states import (
    SETUP_PHASE_STATES,
    TASK_STATES,
    TERMINAL_APPLY_STATES,
    TERMINAL_TASK_STATES,
    ApplyState,
    TaskState,
)
from applies.vocabulary import LogEvent, LogLevel, LogSource, RequestStatus

logger = logging.getLogger(__name__)
_COMPLETED_AT_NULL = (ApplyState.STOPPED, ApplyState.FAILED_RETRYABLE)
_UNFINISHED_TASK = f"state NOT IN ({db.quoted(TERMINAL_TASK_STATES)})"


def task_state_for(apply_state: str) -> str:
    """The state an apply's unfinished tasks move to with it: the same name where tasks have
    one, ``pending`` during the setup phases, ``running`` otherwise."""
    if apply_state in TASK_STATES:
        return apply_state
    return TaskState.PENDING if apply_state in SETUP_PHASE_STATES else TaskState.RUNNING


class DriveWriter:
    def __init__(self, lease: Lease, operation_id: int | None) -> None:
        self.lease = lease
        self.operation_id = operation_id

    def _guarded_children(self, table: str, sets: str, params: list[Any], where: str) -> None:
        db.execute(
            f"UPDATE {table} SET {sets} WHERE {where} AND EXISTS (SELECT 1 FROM applies"
            " WHERE applies.id = %s AND applies.lease_token = %s)",
            [*params, self.lease.row_id, self.lease.token],
        )

    def log(
        self,
        message: str,
        *,
        event: LogEvent = LogEvent.INFO,
        level: LogLevel = LogLevel.INFO,
        **metadata: Any,
    ) -> None:
        """One timeline row, written only while the lease is held: the guarded no-op update
        proves it and keeps the apply row locked until the row is in (``LeaseLost`` else). The
        heartbeat is left alone: a row in the timeline is not a sign of life."""
        with db.atomic():
            guarded_update(self.lease, {}, heartbeat=False)
            self._log(message, event=event, level=level, **metadata)

    def _log(
        self,
        message: str,
        *,
        event: LogEvent,
        level: LogLevel,
        old_state: str | None = None,
        new_state: str | None = None,
        **metadata: Any,
    ) -> None:
        # One line per timeline event in the process log too: what a drive did survives in
        # the log even when nobody looks at the console.
        logger.info("apply %s: %s", self.lease.row_id, message)
        ApplyLog.objects.create(
            apply_id=self.lease.row_id,
            level=level,
            event_type=event,
            source=LogSource.TERNADMIN,
            message=message,
            old_state=old_state,
            new_state=new_state,
            metadata={"lease_owner": self.lease.owner, **metadata},
        )

    def transition(
        self,
        old_state: str,
        new_state: str,
        *,
        message: str = "",
        error: str | None = None,
        started: bool = False,
        event: LogEvent = LogEvent.STATE_TRANSITION,
        completes_request: int | None = None,
    ) -> None:
        """Move the apply (and its operation and tasks) into ``new_state``, with a log row;
        ``completes_request`` marks that control request completed in the same transaction.
        The state is written as the SchemaBot line spells it (a state it lacks is refused)."""
        line = current_line()
        new_state = line.spelling(new_state)
        now = now_sql(db.vendor())
        terminal = new_state in TERMINAL_APPLY_STATES
        fields: dict[str, Any] = {"state": new_state}
        if error is not None:
            fields["error_message"] = error
        stamps: dict[str, str] = {}
        if started:
            stamps["started_at"] = f"COALESCE(started_at, {now})"
        if terminal and new_state not in _COMPLETED_AT_NULL:
            stamps["completed_at"] = f"COALESCE(completed_at, {now})"
        extra = "".join(f", {column} = {sql}" for column, sql in stamps.items())
        with db.atomic():
            guarded_update(self.lease, fields, expressions=stamps)
            if self.operation_id is not None:
                self._guarded_children(
                    "apply_operations",
                    f"state = %s, updated_at = {now}{extra}",
                    [new_state],
                    f"id = {int(self.operation_id)}",
                )
            task_state = line.task_spelling(task_state_for(new_state))
            self._guarded_children(
                "tasks",
                f"state = %s, updated_at = {now}{extra}",
                [task_state],
                f"apply_id = {int(self.lease.row_id)} AND {_UNFINISHED_TASK}",
            )
            if completes_request is not None:
                self._complete_request(completes_request, None)
            self._log(
                message or f"State changed from {old_state} to {new_state}",
                event=event,
                level=LogLevel.ERROR if new_state == ApplyState.FAILED else LogLevel.INFO,
                old_state=old_state,
                new_state=new_state,
            )

    def save_resume_state(self, context: str, metadata: dict[str, Any]) -> None:
        """Persist the engine resume state on the operation row (lease-guarded). ``context``
        only fills an empty ``engine_resume_context``: after a deploy SchemaBot keeps the Vitess
        migration context there, which ternadmin does not discover and must not overwrite."""
        if self.operation_id is None:  # never silently: a drive would redo its steps for ever
            raise ValueError(f"apply {self.lease.row_id} has no operation row for resume state")
        with db.atomic():
            guarded_update(self.lease, {})  # proves the lease and heartbeats in the same step
            self._guarded_children(
                "apply_operations",
                "engine_resume_context = COALESCE(NULLIF(engine_resume_context, ''), %s),"
                f" engine_resume_metadata = %s, updated_at = {now_sql(db.vendor())}",
                [context, json.dumps(metadata)],
                f"id = {int(self.operation_id)}",
            )

    def complete_request(self, request_id: int, *, failed: str | None = None) -> None:
        with db.atomic():
            guarded_update(self.lease, {})
            self._complete_request(request_id, failed)

    def _complete_request(self, request_id: int, failed: str | None) -> None:
        now = now_sql(db.vendor())
        status = RequestStatus.FAILED if failed else RequestStatus.COMPLETED
        self._guarded_children(
            "apply_control_requests",
            f"status = %s, error_message = %s, completed_at = {now}, updated_at = {now}",
            [status.value, failed],
            f"id = {int(request_id)} AND apply_id = {int(self.lease.row_id)}",
        )
