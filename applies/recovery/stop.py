"""Delivering a stop or a cancel that a claim was made for, before any other engine work.

Two claim clauses of the current line exist only to deliver a user's intent, never to resume
work: stop reconciliation (a pending stop on an apply whose pending operations no claim will
start) and stopped+cancel (a pending cancel on a stopped apply). Upstream drives them through
the data plane's stop/cancel and then settles the rows (pkg/api/operator.go
``recoverApplyPendingStop``; the cancel drive of ``claimStoppedApplyForCancel``). For a
PlanetScale apply that is: cancel its deploy request if one is open (a PlanetScale stop is a
permanent cancel), move the apply, its operation and its unfinished tasks to ``stopped`` (stop)
or ``cancelled`` (cancel), and complete the request. Nothing here creates a branch, a deploy
request or a deploy.
"""

from __future__ import annotations

from dataclasses import replace

from applies import db
from applies.clauses import Clause
from applies.engines.base import (
    BranchTarget,
    CorruptResumeState,
    Engine,
    PlanetScaleMetadata,
    deterministic_branch_name,
)
from applies.lines import current_line
from applies.models import Apply, ApplyControlRequest, ApplyOperation, Plan
from applies.recovery.writer import DriveWriter
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, RequestStatus

# What each delivery claim carries, and the state it ends the apply in.
DELIVERIES = {
    Clause.STOP_RECONCILIATION.value: (ControlOperation.STOP, ApplyState.STOPPED),
    Clause.STOPPED_CANCEL.value: (ControlOperation.CANCEL, ApplyState.CANCELLED),
}


def deliver(
    clause: str, apply: Apply, operation: ApplyOperation | None, engine: Engine, writer: DriveWriter
) -> str:
    """Deliver the request the claim was made for; the state the apply ends in."""
    request_kind, end = DELIVERIES[clause]
    _cancel_open_deploy_request(apply, operation, engine)
    end_state = current_line().spelling(end)
    if apply.state != end_state:
        writer.transition(
            apply.state, end_state, message=f"{request_kind.value.capitalize()} delivered"
        )
    request = (
        ApplyControlRequest.objects.using(writer.db)
        .filter(apply_id=apply.pk, operation=request_kind, status=RequestStatus.PENDING)
        .first()
    )
    if request is not None:
        writer.complete_request(request.pk)
    return end_state


def _cancel_open_deploy_request(
    apply: Apply, operation: ApplyOperation | None, engine: Engine
) -> None:
    target = BranchTarget(
        database=apply.database_name,
        branch="",
        apply_identifier=apply.apply_identifier,
        statements=(),
    )
    try:
        metadata = PlanetScaleMetadata.from_json(
            operation.engine_resume_metadata if operation else None
        )
    except CorruptResumeState:
        # Unreadable resume state: find the deploy request by the deterministic branch name.
        plan = Plan.objects.using(db.alias()).filter(pk=apply.plan_id).first()
        if plan is None:
            return
        branch = deterministic_branch_name(apply.database_name, plan.plan_identifier)
        found = engine.find_open_deploy_request(replace(target, branch=branch))
        if found is not None:
            engine.cancel(replace(target, branch=branch), found.number)
        return
    if metadata is None or metadata.deploy_request_id is None:
        return  # no deploy request was ever made: nothing runs on the engine
    engine.cancel(replace(target, branch=metadata.branch_name), metadata.deploy_request_id)
