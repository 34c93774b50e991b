"""One apply's whole story: the row, its lease, classification, children, timeline, requests,
drives and persisted engine state. Every read is by primary key or an index on ``apply_id``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models.expressions import RawSQL

from applies.classify import Classification, annotate_for_classification, classify
from applies.db import vendor
from applies.dbclock import AgeSeconds, SecondsUntil
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Drive, Plan, Task
from applies.operation_clauses import operation_claim_case
from applies.selectors.engine import ResumeState, resume_state
from applies.services.actions import Action, Possible, Situation, possible_now

TIMELINE_LIMIT = 500
DRIVE_LIMIT = 20


@dataclass(frozen=True)
class ApplyActions:
    """An apply as an action's confirmation page shows it: the row, its classification, its
    control requests and what each action allows now."""

    apply: Apply  # with ``heartbeat_age`` and ``lease_age`` (seconds, database clock)
    classification: Classification
    control_requests: list[ApplyControlRequest]
    possible: dict[Action, Possible]  # each action of ``ACTIONS``: offered now, and why (not)


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
    possible: dict[Action, Possible]  # each action of ``ACTIONS``: offered now, and why (not)


def get_apply(apply_id: int) -> Apply | None:
    """The apply annotated for ``classify`` and with its ages, or ``None``."""
    queryset = annotate_for_classification(Apply.objects.filter(pk=apply_id))
    return queryset.annotate(lease_age=AgeSeconds("lease_acquired_at")).first()


def apply_actions(apply_id: int) -> ApplyActions | None:
    """The apply and what each action allows now, or ``None`` (three reads by key)."""
    apply = get_apply(apply_id)
    if apply is None:
        return None
    verdict = classify(apply)
    requests = list(ApplyControlRequest.objects.filter(apply_id=apply_id).order_by("operation"))
    possible = possible_now(Situation(apply, verdict, requests))
    return ApplyActions(apply, verdict, requests, possible)


def apply_detail(apply_id: int) -> ApplyDetail | None:
    now = apply_actions(apply_id)
    if now is None:
        return None
    apply = now.apply
    operations = list(
        ApplyOperation.objects.filter(apply_id=apply_id)
        .annotate(
            heartbeat_age=AgeSeconds("updated_at"),
            # The operation claim that takes the row now, by the claim paths' own SQL.
            claim_clause=RawSQL(operation_claim_case(vendor()), []),
        )
        .order_by("created_at", "id")
    )
    timeline = list(
        ApplyLog.objects.filter(apply_id=apply_id).order_by("-created_at", "-id")[
            : TIMELINE_LIMIT + 1
        ]
    )
    plan = Plan.objects.filter(pk=apply.plan_id).values_list("plan_identifier", flat=True).first()
    return ApplyDetail(
        apply=apply,
        classification=now.classification,
        plan_identifier=plan,
        operations=operations,
        resume=[resume_state(operation) for operation in operations],
        tasks=list(
            Task.objects.filter(apply_id=apply_id)
            .annotate(updated_age=AgeSeconds("updated_at"))
            .order_by("id")
        ),
        timeline=timeline[:TIMELINE_LIMIT],
        timeline_truncated=len(timeline) > TIMELINE_LIMIT,
        control_requests=now.control_requests,
        drives=list(
            Drive.objects.filter(apply_id=apply_id)
            .annotate(due_in=SecondsUntil("next_due_at"))
            .order_by("-started_at")[:DRIVE_LIMIT]
        ),
        possible=now.possible,
    )
