"""The deploy-request half of a PlanetScale drive: validate, deploy, follow, finish.

Each call reads the deploy request once and does at most one thing about it (upstream
pkg/engine/planetscale/apply.go ``resumeApply``, planetscale.go ``Progress``, control.go): a
``ready`` request never deployed is deployed (or waits for a start request when the deploy is
deferred); ``pending_cutover`` is applied unless the cutover is deferred; an auto-skipped revert
window is closed; otherwise the apply mirrors the request's state and polls again. A request that
ended in ``error`` before it was deployed is replaced: the branch is diffed again and a new one
opened from it, as upstream starts over on a deploy request in error.
"""

from __future__ import annotations

from dataclasses import replace

from applies.engines.base import (
    EngineConflict,
    EngineNotFound,
    Next,
    failed,
    finished,
    poll_after,
    run_now,
)
from applies.engines.planetscale.types import DeployRequest, DeployRequestState
from applies.recovery.crash import crash_point
from applies.recovery.step_context import DriveFailed, StepContext
from applies.states import SETUP_PHASE_STATES, ApplyState
from applies.vocabulary import ControlOperation, LogEvent

A = ApplyState
DR = DeployRequestState
# A plan PlanetScale refuses this many times is not going to pass: fail it.
MAX_ERRORED_DEPLOY_REQUESTS = 3

# Deploy-request states that end the drive, and the apply state each ends in (as
# ``types.engine_state`` maps them; a cancel is permanent from its first moment).
FINAL = {
    DR.COMPLETE: A.COMPLETED,
    DR.NO_CHANGES: A.COMPLETED,
    DR.COMPLETE_REVERT: A.REVERTED,
    DR.IN_PROGRESS_CANCEL: A.CANCELLED,
    DR.COMPLETE_CANCEL: A.CANCELLED,
    DR.CANCELLED: A.CANCELLED,
    DR.COMPLETE_ERROR: A.FAILED,
    DR.ERROR: A.FAILED,
    DR.FAILED: A.FAILED,
    DR.COMPLETE_REVERT_ERROR: A.FAILED,
}


def deploy_request_step(ctx: StepContext, poll: float) -> Next:
    number = ctx.metadata.deploy_request_id
    assert number is not None
    validating = ctx.state == A.VALIDATING_DEPLOY_REQUEST
    if validating:
        crash_point("validate_deploy_request", "before")
    dr = _read(ctx, number)
    if dr is None:
        return run_now()  # forgotten: the branch step finds or opens the right one
    if validating:
        crash_point("validate_deploy_request", "after")
    if dr.state == DR.PENDING:
        _enter_validation(ctx)
        return poll_after(poll)
    if dr.state == DR.ERROR and not dr.deployed:
        return _replace_errored(ctx, dr)
    if dr.state in FINAL:
        return _finish(ctx, dr)
    if dr.state == DR.READY and not dr.deployed:
        return _deploy(ctx, dr, poll)
    return _follow(ctx, dr, poll)


def _read(ctx: StepContext, number: int) -> DeployRequest | None:
    """The persisted deploy request, or None after forgetting one that is not this apply's.

    A number the engine does not know (404) is dropped, as SchemaBot does, once the database
    is seen to answer (otherwise the 404 is ternadmin's access, not the request); so is one
    that belongs to another branch (numbers are per database, so a stale or mistyped number can
    name a neighbour's request, and following it would act on someone else's deploy).
    """
    try:
        dr = ctx.client.get_deploy_request(number)
    except EngineNotFound:
        ctx.confirm_database()
        why = "is unknown to the engine"
    else:
        if dr.branch == ctx.branch:
            current = ctx.metadata.with_deploy_request(dr)  # deploy time, URL
            if current != ctx.metadata:
                ctx.persist(current)
            return dr
        why = f"belongs to branch {dr.branch}, not {ctx.branch}"
    ctx.persist(ctx.metadata.without_deploy_request())
    ctx.log(f"Deploy request #{number} {why}; resuming from the branch", warn=True)
    ctx.move(A.CREATING_DEPLOY_REQUEST)
    return None


def _enter_validation(ctx: StepContext) -> None:
    if ctx.state == A.PENDING or ctx.state in SETUP_PHASE_STATES:
        ctx.move(A.VALIDATING_DEPLOY_REQUEST, started=True)


def _replace_errored(ctx: StepContext, dr: DeployRequest) -> Next:
    errored = [*ctx.metadata.errored_deploy_requests, dr.number]
    reason = dr.deploy_check_errors or "no reason given"
    if len(errored) >= MAX_ERRORED_DEPLOY_REQUESTS:
        raise DriveFailed(
            f"deploy request #{dr.number} ended in error ({reason}); "
            f"{len(errored)} deploy requests of this plan did: giving up"
        )
    ctx.persist(ctx.metadata.without_deploy_request(errored=True))
    ctx.log(
        f"Deploy request #{dr.number} ended in error ({reason}); diffing branch {ctx.branch} "
        "again and opening a new deploy request from it",
        warn=True,
    )
    ctx.move(A.APPLYING_BRANCH_CHANGES)
    return run_now()


def _finish(ctx: StepContext, dr: DeployRequest) -> Next:
    end = FINAL[DR(dr.state)]
    if end == A.FAILED:
        message = f"deploy request #{dr.number} ended in {dr.state}"
        ctx.move(A.FAILED, error=message)
        return failed(message)
    ctx.move(end, started=True)
    return finished(end)


def _deploy(ctx: StepContext, dr: DeployRequest, poll: float) -> Next:
    start = ctx.snap.pending(ControlOperation.START)
    if ctx.snap.option("defer_deploy") and start is None:
        if not ctx.metadata.deferred_deploy:
            deferred = replace(
                ctx.metadata, deferred_deploy=True, is_instant=dr.instant_ddl_eligible
            )
            ctx.persist(deferred)
        ctx.move(A.WAITING_FOR_DEPLOY, started=True)
        return poll_after(poll)
    crash_point("deploy", "before")
    instant = dr.instant_ddl_eligible
    ctx.fence(f"deploying deploy request #{dr.number}")
    try:
        dr = ctx.client.deploy(dr.number, instant=instant)
    except EngineConflict:
        # Another deploy runs on this database, or ours already went through: ask again on
        # the next step; a deploy is only ever issued for a ready, never-deployed request.
        return poll_after(poll)
    crash_point("deploy", "after")
    deployed = ctx.metadata.with_deploy_request(dr)
    # Upstream records whether the deploy went instant (``is_instant``) as it deploys.
    ctx.persist(replace(deployed, is_instant=True) if instant else deployed)
    ctx.writer.log(f"Deploy request #{dr.number} deployed", event=LogEvent.DEPLOY_TRIGGERED)
    if start is not None:
        ctx.writer.complete_request(start.pk)
    ctx.move(_mirrored(ctx, dr), started=True)
    return poll_after(poll)


def _follow(ctx: StepContext, dr: DeployRequest, poll: float) -> Next:
    cutover = ctx.snap.pending(ControlOperation.CUTOVER)
    if dr.state == DR.PENDING_CUTOVER and (not ctx.snap.option("defer_cutover") or cutover):
        crash_point("cutover", "before")
        ctx.fence(f"the cutover of deploy request #{dr.number}")
        try:
            dr = ctx.client.apply_deploy(dr.number)
        except EngineConflict:
            return poll_after(poll)
        ctx.writer.log(f"Cutover of deploy request #{dr.number}", event=LogEvent.CUTOVER_TRIGGERED)
        if cutover is not None:
            ctx.writer.complete_request(cutover.pk)
    elif dr.state == DR.COMPLETE_PENDING_REVERT and ctx.snap.option("skip_revert"):
        ctx.fence(f"skipping the revert of deploy request #{dr.number}")
        try:
            dr = ctx.client.skip_revert(dr.number)
        except EngineConflict:
            return poll_after(poll)
    ctx.move(_mirrored(ctx, dr))
    return poll_after(poll)


def _mirrored(ctx: StepContext, dr: DeployRequest) -> str:
    state = dr.engine_state
    return ctx.state if state == A.PENDING else state
