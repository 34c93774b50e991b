"""The API's shapes of single rows, declared once: each a schema and the function filling it.

Lease tokens appear shortened (8 characters) and are sent back that way as ``seen_token``;
free text and SchemaBot's JSON pass through ``applies.redact``. Times are ISO 8601 strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from ninja import Schema

from applies import selectors
from applies.classify import Classification
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Drive, Task
from applies.redact import redact, redact_json, short_token
from applies.selectors.live import LiveApply
from applies.states import apply_state

JsonValue = Any  # SchemaBot's JSON columns, secret-looking keys masked


def iso_time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ClassificationOut(Schema):
    apply_id: int
    apply_identifier: str
    state: str
    engine: str
    classification: str
    clause: str | None
    reason: str
    heartbeat_age_seconds: int
    claimable_in_seconds: int | None
    claimed_by: str  # "ternadmin" (and SchemaBot's operator), "schemabot" only, or "" (no one)
    unclaimed_alarm: bool  # claimable for too many sweep intervals: SchemaBot is not claiming


class LeaseOut(Schema):
    owner: str | None
    token_short: str


class FullLeaseOut(LeaseOut):
    acquired_at: str | None
    age_seconds: int | None


class ApplyOut(Schema):
    id: int
    apply_identifier: str
    state: str
    state_label: str
    terminal: bool
    engine: str
    database_name: str
    database_type: str
    environment: str
    deployment: str | None
    repository: str
    pull_request: int | None
    lease: LeaseOut
    heartbeat_age_seconds: int | None
    created_at: str | None
    updated_at: str | None
    classification: ClassificationOut | None
    url: str


def apply_out(apply: Apply, classification: Classification | None = None) -> ApplyOut:
    info = apply_state(apply.state)
    return ApplyOut(
        id=apply.pk,
        apply_identifier=apply.apply_identifier,
        state=apply.state,
        state_label=info.label,
        terminal=info.terminal,
        engine=apply.engine,
        database_name=apply.database_name,
        database_type=apply.database_type,
        environment=apply.environment,
        deployment=apply.deployment,
        repository=apply.repository,
        pull_request=apply.pull_request,
        lease=LeaseOut(owner=apply.lease_owner, token_short=short_token(apply.lease_token)),
        heartbeat_age_seconds=getattr(apply, "heartbeat_age", None),
        created_at=iso_time(apply.created_at),
        updated_at=iso_time(apply.updated_at),
        classification=ClassificationOut(**classification.as_json()) if classification else None,
        url=reverse("apply-detail", args=[apply.pk]),
    )


def live_out(item: LiveApply) -> ApplyOut:
    return apply_out(item.apply, item.classification)


class EngineResumeOut(Schema):
    context: str | None
    branch_name: str | None
    deploy_request_id: int | None
    deploy_request_url: str | None
    other: dict[str, JsonValue]
    problem: str | None


class OperationLeaseOut(LeaseOut):
    acquired_at: str | None


class OperationOut(Schema):
    id: int
    deployment: str
    target: str | None
    state: str
    cutover_policy: str | None
    on_failure: str | None
    claim_clause: str | None  # the operation claim that takes this row now, if any
    error_message: str | None
    lease: OperationLeaseOut
    heartbeat_age_seconds: int | None
    engine_resume: EngineResumeOut
    started_at: str | None
    completed_at: str | None


def operation_out(operation: ApplyOperation, resume: selectors.ResumeState) -> OperationOut:
    return OperationOut(
        id=operation.pk,
        deployment=operation.deployment,
        target=operation.target,
        state=operation.state,
        cutover_policy=operation.cutover_policy,
        on_failure=operation.on_failure,
        claim_clause=getattr(operation, "claim_clause", None),
        error_message=redact(operation.error_message) or None,
        lease=OperationLeaseOut(
            owner=operation.lease_owner,
            token_short=short_token(operation.lease_token),
            acquired_at=iso_time(operation.lease_acquired_at),
        ),
        heartbeat_age_seconds=getattr(operation, "heartbeat_age", None),
        engine_resume=EngineResumeOut(
            context=resume.context or None,
            branch_name=resume.branch_name or None,
            deploy_request_id=resume.deploy_request_id,
            # As the console shows it (``engine_link``): a URL with userinfo is masked.
            deploy_request_url=redact(resume.deploy_request_url) or None,
            other=resume.other,
            problem=resume.problem or None,
        ),
        started_at=iso_time(operation.started_at),
        completed_at=iso_time(operation.completed_at),
    )


class TaskOut(Schema):
    id: int
    task_identifier: str
    apply_operation_id: int | None
    namespace: str | None
    table_name: str | None
    ddl_action: str | None
    ddl: str | None
    state: str
    attempt: int | None
    rows_copied: int | None
    rows_total: int | None
    progress_percent: int | None
    eta_seconds: int | None
    error_message: str | None
    updated_age_seconds: int | None


def task_out(task: Task) -> TaskOut:
    return TaskOut(
        id=task.pk,
        task_identifier=task.task_identifier,
        apply_operation_id=task.apply_operation_id,
        namespace=task.namespace,
        table_name=task.table_name,
        ddl_action=task.ddl_action,
        ddl=task.ddl,
        state=task.state,
        attempt=task.attempt,
        rows_copied=task.rows_copied,
        rows_total=task.rows_total,
        progress_percent=task.progress_percent,
        eta_seconds=task.eta_seconds,
        error_message=redact(task.error_message) or None,
        updated_age_seconds=getattr(task, "updated_age", None),
    )


class LogOut(Schema):
    id: int
    created_at: str | None
    level: str | None
    event_type: str
    source: str | None
    message: str
    old_state: str | None
    new_state: str | None
    task_id: int | None
    metadata: JsonValue


def log_out(log: ApplyLog) -> LogOut:
    return LogOut(
        id=log.pk,
        created_at=iso_time(log.created_at),
        level=log.level,
        event_type=log.event_type,
        source=log.source,
        message=redact(log.message),
        old_state=log.old_state,
        new_state=log.new_state,
        task_id=log.task_id,
        metadata=redact_json(log.metadata),
    )


class ControlRequestOut(Schema):
    operation: str
    status: str
    requested_by: str | None
    error_message: str | None
    created_at: str | None
    updated_at: str | None
    completed_at: str | None


def request_out(request: ApplyControlRequest) -> ControlRequestOut:
    return ControlRequestOut(
        operation=request.operation,
        status=request.status,
        requested_by=request.requested_by,
        error_message=redact(request.error_message) or None,
        created_at=iso_time(request.created_at),
        updated_at=iso_time(request.updated_at),
        completed_at=iso_time(request.completed_at),
    )


class DriveOut(Schema):
    id: int
    trigger: str
    requested_by: str
    owner: str
    lease_token_short: str
    clause: str
    claimed_state: str
    end_state: str
    outcome: str
    message: str
    started_at: str | None
    finished_at: str | None
    runner: str  # "loops" or "foreground"
    steps: int
    next_due_at: str | None  # when the loops run its next step (none once it ended)
    stepping: str  # the runner holding it for the step running now, "" when none
    consecutive_errors: int
    last_error: str


def drive_out(drive: Drive) -> DriveOut:
    return DriveOut(
        id=drive.pk,
        trigger=drive.trigger,
        requested_by=drive.requested_by,
        owner=drive.owner,
        lease_token_short=short_token(drive.lease_token),
        clause=drive.clause,
        claimed_state=drive.claimed_state,
        end_state=drive.end_state,
        outcome=drive.outcome,
        message=redact(drive.message),
        started_at=iso_time(drive.started_at),
        finished_at=iso_time(drive.finished_at),
        runner=drive.runner,
        steps=drive.steps,
        next_due_at=iso_time(drive.next_due_at),
        stepping=drive.held_by,
        consecutive_errors=drive.consecutive_errors,
        last_error=redact(drive.last_error),
    )
