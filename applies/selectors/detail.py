"""One apply's whole story: the row, its lease, classification, children, timeline, requests,
drives and persisted engine state. Every read is by primary key or an index on ``apply_id``."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models.expressions import RawSQL

from applies import states
from applies.classify import Classification, Verdict, annotate_for_classification, classify
from applies.clauses import operation_claim_case
from applies.db import vendor
from applies.dbclock import AgeSeconds, SecondsUntil
from applies.engines import drives_engine, not_driven_reason
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Drive, Plan, Task
from applies.selectors.engine import ResumeState, resume_state
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, RequestStatus

TIMELINE_LIMIT = 500
DRIVE_LIMIT = 20


@dataclass(frozen=True)
class Possible:
    """Whether an action is offered now, and why (not)."""

    allowed: bool
    why: str


@dataclass(frozen=True)
class ApplyDetail:
    apply: Apply  # with ``heartbeat_age`` and ``lease_age`` (seconds, database clock)
    classification: Classification
    plan_identifier: str | None
    operations: list[ApplyOperation]  # each with ``heartbeat_age``
    resume: list[ResumeState]
    tasks: list[Task]  # each with ``updated_age``
    timeline: list[ApplyLog]  # newest first
    timeline_truncated: bool
    control_requests: list[ApplyControlRequest]
    drives: list[Drive]
    reclaim: Possible
    stop: Possible
    start: Possible


def _db() -> str:
    return str(settings.SCHEMABOT_DATABASE)


def get_apply(apply_id: int) -> Apply | None:
    """The apply annotated for ``classify`` and with its ages, or ``None``."""
    queryset = annotate_for_classification(Apply.objects.using(_db()).filter(pk=apply_id))
    return queryset.annotate(lease_age=AgeSeconds("lease_acquired_at")).first()


def reclaim_possible(apply: Apply, verdict: Classification) -> Possible:
    if not drives_engine(apply.engine):
        return Possible(False, f"{not_driven_reason(apply.engine)}.")
    if verdict.classification is Verdict.CLAIMABLE_NOW:
        # Claimable, but perhaps only by SchemaBot's operator (the reason says why).
        return Possible(verdict.claimed_by == "ternadmin", verdict.reason)
    return Possible(False, verdict.reason)


def stop_possible(apply: Apply, requests: list[ApplyControlRequest]) -> Possible:
    info = states.apply_state(apply.state)
    if info.terminal:
        return Possible(False, f"{info.label} is terminal: there is nothing to stop.")
    return _pending_or(requests, ControlOperation.STOP, "Asks the driver to stop at a safe point.")


def start_possible(apply: Apply, requests: list[ApplyControlRequest]) -> Possible:
    if apply.state not in (ApplyState.STOPPED, ApplyState.WAITING_FOR_DEPLOY):
        label = states.apply_state(apply.state).label
        return Possible(
            False, f"Only stopped or waiting-for-deploy applies start; this is {label}."
        )
    return _pending_or(requests, ControlOperation.START, "A start request lets a claim resume it.")


def _pending_or(requests: list[ApplyControlRequest], operation: str, why: str) -> Possible:
    for request in requests:
        if request.operation == operation and request.status == RequestStatus.PENDING:
            return Possible(False, f"A {operation} request is already pending.")
    return Possible(True, why)


def apply_detail(apply_id: int) -> ApplyDetail | None:
    apply = get_apply(apply_id)
    if apply is None:
        return None
    verdict = classify(apply)
    db = _db()
    operations = list(
        ApplyOperation.objects.using(db)
        .filter(apply_id=apply_id)
        .annotate(
            heartbeat_age=AgeSeconds("updated_at"),
            # The operation claim that takes the row now, by the claim paths' own SQL.
            claim_clause=RawSQL(operation_claim_case(vendor()), []),
        )
        .order_by("created_at", "id")
    )
    timeline = list(
        ApplyLog.objects.using(db)
        .filter(apply_id=apply_id)
        .order_by("-created_at", "-id")[: TIMELINE_LIMIT + 1]
    )
    requests = list(
        ApplyControlRequest.objects.using(db).filter(apply_id=apply_id).order_by("operation")
    )
    plan = (
        Plan.objects.using(db)
        .filter(pk=apply.plan_id)
        .values_list("plan_identifier", flat=True)
        .first()
    )
    return ApplyDetail(
        apply=apply,
        classification=verdict,
        plan_identifier=plan,
        operations=operations,
        resume=[resume_state(operation) for operation in operations],
        tasks=list(
            Task.objects.using(db)
            .filter(apply_id=apply_id)
            .annotate(updated_age=AgeSeconds("updated_at"))
            .order_by("id")
        ),
        timeline=timeline[:TIMELINE_LIMIT],
        timeline_truncated=len(timeline) > TIMELINE_LIMIT,
        control_requests=requests,
        drives=list(
            Drive.objects.filter(apply_id=apply_id)
            .annotate(due_in=SecondsUntil("next_due_at"))
            .order_by("-started_at")[:DRIVE_LIMIT]
        ),
        reclaim=reclaim_possible(apply, verdict),
        stop=stop_possible(apply, requests),
        start=start_possible(apply, requests),
    )
