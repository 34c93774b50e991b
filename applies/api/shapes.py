"""The API's answers, declared: the dashboard, a page of applies, an apply, actions, errors.

Rows inside them are in ``applies.api.rows``.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema

from applies import selectors
from applies.api.rows import (
    ApplyOut,
    ControlRequestOut,
    DriveOut,
    FullLeaseOut,
    LogOut,
    OperationOut,
    TaskOut,
    apply_out,
    drive_out,
    iso_time,
    live_out,
    log_out,
    operation_out,
    request_out,
    task_out,
)
from applies.redact import redact, redact_json


class ErrorOut(Schema):
    """Every error: 400, 401, 403, 404, 405, 409, 500 (validation errors add ``details``)."""

    error: str
    message: str


class CountRowOut(Schema):
    state: str
    label: str
    terminal: bool
    count: int
    exact: bool  # False: "count" is the cap and there are more
    by_engine: dict[str, int]


class CountsOut(Schema):
    rows: list[CountRowOut]
    cap: int
    highest_id: int


class SweepOut(Schema):
    last_started_at: str | None
    last_age_seconds: int | None
    last_ok: bool | None
    last_claimed: int | None
    overdue: bool
    brake_engaged: bool
    brake_reason: str | None
    recent_drives: list[DriveOut]


class IdleApplyOut(ApplyOut):
    idle_seconds: int
    progress: int | None


class DashboardOut(Schema):
    counts: CountsOut
    stuck: list[ApplyOut]
    wedged: list[ApplyOut]
    not_progressing: list[IdleApplyOut]
    needs_human: list[ApplyOut]
    healthy: int
    sweep: SweepOut


def _counts(counts: selectors.StateCounts) -> CountsOut:
    rows = [
        CountRowOut(
            state=row.state.value,
            label=row.state.label,
            terminal=row.state.terminal,
            count=row.total,
            exact=row.exact,
            by_engine=row.by_engine,
        )
        for row in counts.rows
    ]
    return CountsOut(rows=rows, cap=counts.cap, highest_id=counts.highest_id)


def _sweep(sweep: selectors.SweepHealth) -> SweepOut:
    last = sweep.last
    return SweepOut(
        last_started_at=iso_time(last.started_at) if last else None,
        last_age_seconds=getattr(last, "age", None),
        last_ok=last.ok if last else None,
        last_claimed=last.claimed if last else None,
        overdue=sweep.overdue,
        brake_engaged=sweep.braked,
        brake_reason=sweep.brake.reason if sweep.brake and sweep.braked else None,
        recent_drives=[drive_out(drive) for drive in sweep.drives],
    )


def dashboard_out(board: selectors.Dashboard) -> DashboardOut:
    return DashboardOut(
        counts=_counts(board.counts),
        stuck=[live_out(item) for item in board.stuck],
        wedged=[live_out(item) for item in board.wedged],
        not_progressing=[
            IdleApplyOut(
                **live_out(idle.live).model_dump(),
                idle_seconds=idle.idle_seconds,
                progress=idle.progress,
            )
            for idle in board.not_progressing
        ],
        needs_human=[live_out(item) for item in board.needs_human],
        healthy=board.healthy,
        sweep=_sweep(board.sweep),
    )


class PageOut(Schema):
    results: list[ApplyOut]
    next: str | None
    previous: str | None


class PossibleOut(Schema):
    allowed: bool
    why: str


class ApplyDetailOut(ApplyOut):
    lease: FullLeaseOut
    lock_id: int | None
    plan_id: int | None
    plan_identifier: str | None
    caller: str | None
    installation_id: int | None
    external_id: str | None
    attempt: int | None
    error_message: str | None
    options: Any
    started_at: str | None
    completed_at: str | None
    operations: list[OperationOut]
    tasks: list[TaskOut]
    timeline: list[LogOut]
    timeline_truncated: bool
    control_requests: list[ControlRequestOut]
    drives: list[DriveOut]
    actions: dict[str, PossibleOut]


def detail_out(detail: selectors.ApplyDetail) -> ApplyDetailOut:
    apply = detail.apply
    base = apply_out(apply, detail.classification).model_dump()
    base["lease"].update(
        acquired_at=iso_time(apply.lease_acquired_at),
        age_seconds=getattr(apply, "lease_age", None),
    )
    return ApplyDetailOut(
        **base,
        lock_id=apply.lock_id,
        plan_id=apply.plan_id,
        plan_identifier=detail.plan_identifier,
        caller=apply.caller,
        installation_id=apply.installation_id,
        external_id=apply.external_id,
        attempt=apply.attempt,
        error_message=redact(apply.error_message) or None,
        options=redact_json(apply.options),
        started_at=iso_time(apply.started_at),
        completed_at=iso_time(apply.completed_at),
        operations=[
            operation_out(o, r) for o, r in zip(detail.operations, detail.resume, strict=True)
        ],
        tasks=[task_out(task) for task in detail.tasks],
        timeline=[log_out(log) for log in detail.timeline],
        timeline_truncated=detail.timeline_truncated,
        control_requests=[request_out(request) for request in detail.control_requests],
        drives=[drive_out(drive) for drive in detail.drives],
        actions={
            action.value: PossibleOut(allowed=p.allowed, why=p.why)
            for action, p in detail.possible.items()
        },
    )


class EngineAnswerOut(Schema):
    operation_id: int
    reachable: bool
    summary: str
    deploy_request_state: str | None
    maps_to_state: str | None
    branch_ready: bool | None
    deploy_request_html_url: str | None


class EngineOut(Schema):
    apply_id: int
    operations: list[EngineAnswerOut]


class ActionResultOut(Schema):
    apply_id: int
    action: str
    ok: bool
    message: str
    state: str
    lease: str  # the lease token afterwards, shortened
    drive_id: int | None
    changed: bool  # False for a request that was already pending
    refusal: str | None


class BulkResultsOut(Schema):
    results: list[ActionResultOut]
