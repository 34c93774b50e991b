"""Driving a PlanetScale apply from wherever its last driver stopped (domain.md §4.4, §7.1).

The driver never trusts that a step did not happen: each engine step re-reads the engine first
(a taken branch name is reused, an existing branch is diffed, an open deploy request of the
branch is found before one is created, a deploy is issued only for a ``ready`` request that was
never deployed). The persisted resume state (branch name, deploy request number) says where to
pick up; states are written as they are entered, like SchemaBot's setup-phase events.

Missing or corrupt resume state on an apply that has started is never answered by starting
fresh work blindly: the branch and deploy request are looked up by their deterministic names,
and when nothing is found the apply fails with a clear error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from django.conf import settings

from applies.engines.base import (
    BranchTarget,
    CorruptResumeState,
    DeployRequest,
    DeployRequestState,
    Engine,
    EngineNotFound,
    EngineRejected,
    PlanetScaleMetadata,
    deterministic_branch_name,
)
from applies.leases import LeaseLost
from applies.lines import current_line
from applies.models import Apply, ApplyControlRequest, ApplyOperation, Plan, Task
from applies.recovery.crash import crash_point
from applies.recovery.heartbeats import Heartbeat
from applies.recovery.writer import DriveWriter
from applies.states import SETUP_PHASE_STATES, TERMINAL_APPLY_STATES, ApplyState
from applies.vocabulary import ControlOperation, LogEvent, RequestStatus

logger = logging.getLogger(__name__)
A = ApplyState
DR = DeployRequestState

# Deploy-request states that end the drive, and the apply state each ends in.
_FINAL = {
    DR.COMPLETE: A.COMPLETED,
    DR.NO_CHANGES: A.COMPLETED,
    DR.COMPLETE_REVERT: A.REVERTED,
    DR.COMPLETE_CANCEL: A.CANCELLED,
    DR.CANCELLED: A.CANCELLED,
    DR.COMPLETE_ERROR: A.FAILED,
    DR.ERROR: A.FAILED,
    DR.FAILED: A.FAILED,
    DR.COMPLETE_REVERT_ERROR: A.FAILED,
}


class DriveStopped(Exception):
    """The lease was lost: stop at once, write nothing more."""


class DriveFailed(Exception):
    """The apply cannot go on; it is failed with this message."""


@dataclass
class DriveContext:
    apply: Apply
    operation: ApplyOperation | None
    engine: Engine
    writer: DriveWriter
    heartbeat: Heartbeat
    state: str
    metadata: PlanetScaleMetadata | None
    target: BranchTarget


def drive_planetscale(
    apply: Apply, engine: Engine, writer: DriveWriter, heartbeat: Heartbeat
) -> str:
    """Drive until an end state (returned) or ``DriveStopped``/``DriveFailed``."""
    operation = (
        apply.operations.using(settings.SCHEMABOT_DATABASE).order_by("created_at", "id").first()
    )
    tasks = list(
        Task.objects.using(settings.SCHEMABOT_DATABASE).filter(apply_id=apply.pk).order_by("id")
    )
    if not tasks:
        raise DriveFailed("no tasks found during recovery")
    plan = Plan.objects.using(settings.SCHEMABOT_DATABASE).filter(pk=apply.plan_id).first()
    if plan is None:
        raise DriveFailed("plan not found during recovery")
    options = apply.options if isinstance(apply.options, dict) else {}
    branch = deterministic_branch_name(apply.database_name, plan.plan_identifier)
    metadata = _load_metadata(apply, operation)
    target = BranchTarget(
        database=apply.database_name,
        branch=metadata.branch_name if metadata else str(options.get("branch") or branch),
        apply_identifier=apply.apply_identifier,
        statements=tuple(task.ddl for task in tasks if task.ddl),
        defer_cutover=bool(options.get("defer_cutover")),
        defer_deploy=bool(options.get("defer_deploy")),
    )
    ctx = DriveContext(apply, operation, engine, writer, heartbeat, apply.state, metadata, target)
    if metadata is None and apply.started_at is not None:
        _rediscover(ctx)
    return _run(ctx, skip_revert=bool(options.get("skip_revert")))


def _load_metadata(apply: Apply, operation: ApplyOperation | None) -> PlanetScaleMetadata | None:
    if operation is None:
        return None
    try:
        return PlanetScaleMetadata.from_json(operation.engine_resume_metadata)
    except CorruptResumeState as exc:
        logger.warning("apply %s: corrupt resume metadata: %s", apply.pk, exc)
        apply.corrupt_resume_state = str(exc)  # type: ignore[attr-defined]
        return None


def _rediscover(ctx: DriveContext) -> None:
    """The apply has started but its resume state is missing or corrupt: find it by name."""
    why = getattr(ctx.apply, "corrupt_resume_state", "") or "missing"
    _check(ctx)
    open_dr = ctx.engine.find_open_deploy_request(ctx.target)
    if open_dr is not None:
        ctx.metadata = PlanetScaleMetadata(branch_name=ctx.target.branch).with_deploy_request(
            open_dr
        )
    else:
        try:
            ctx.engine.get_branch(ctx.target)
        except EngineNotFound:
            raise DriveFailed(
                f"engine resume state is {why} and neither branch {ctx.target.branch} nor an "
                "open deploy request for it exists; refusing to start fresh work blindly"
            ) from None
        ctx.metadata = PlanetScaleMetadata(branch_name=ctx.target.branch)
    _persist(ctx)
    ctx.writer.log(
        f"Resume state was {why}; found branch {ctx.target.branch}"
        + (f" and deploy request #{open_dr.number}" if open_dr else "")
        + " by name"
    )


def _check(ctx: DriveContext) -> None:
    if ctx.heartbeat.lost.is_set():
        raise DriveStopped("lease lost")


def _move(ctx: DriveContext, new_state: str, **kwargs: object) -> None:
    new_state = current_line().spelling(new_state)  # never a state the SchemaBot line lacks
    if ctx.state == new_state:
        return
    _check(ctx)
    try:
        ctx.writer.transition(ctx.state, new_state, **kwargs)  # type: ignore[arg-type]
    except LeaseLost as exc:
        raise DriveStopped(str(exc)) from exc
    ctx.state = new_state


def _persist(ctx: DriveContext) -> None:
    assert ctx.metadata is not None
    _check(ctx)
    crash_point("persist_resume_state", "before")
    try:
        ctx.writer.save_resume_state(ctx.apply.apply_identifier, ctx.metadata.to_json())
    except LeaseLost as exc:
        raise DriveStopped(str(exc)) from exc
    crash_point("persist_resume_state", "after")


def _step(ctx: DriveContext, name: str) -> None:
    _check(ctx)
    crash_point(name, "before")


def _run(ctx: DriveContext, *, skip_revert: bool) -> str:
    if ctx.metadata is None:
        # First dispatch: persist the deterministic branch name before touching the engine.
        ctx.metadata = PlanetScaleMetadata(branch_name=ctx.target.branch)
        _persist(ctx)
    if ctx.metadata.deploy_request_id is not None:
        _forget_unknown_deploy_request(ctx)
    if ctx.metadata.deploy_request_id is None:
        _setup_branch(ctx)
        _create_deploy_request(ctx)
    number = ctx.metadata.deploy_request_id
    assert number is not None
    dr = _validate_deploy_request(ctx, number)
    if dr.state in _FINAL:
        return _finish(ctx, dr)
    dr = _deploy(ctx, dr)
    return _follow(ctx, dr, skip_revert=skip_revert)


def _forget_unknown_deploy_request(ctx: DriveContext) -> None:
    """Drop a persisted deploy request number that is not this apply's.

    A number the engine does not know (404) is dropped, as SchemaBot does; so is one that
    belongs to another branch (numbers are per database, so a stale or mistyped number can
    name a neighbour's request, and following it would act on someone else's deploy). The
    branch path then finds this branch's open request by name, or creates it.
    """
    assert ctx.metadata is not None and ctx.metadata.deploy_request_id is not None
    number = ctx.metadata.deploy_request_id
    try:
        dr = ctx.engine.get_deploy_request(ctx.target, number)
    except EngineNotFound:
        why = "is unknown to the engine"
    else:
        if dr.branch == ctx.target.branch:
            return
        why = f"belongs to branch {dr.branch}, not {ctx.target.branch}"
    ctx.metadata = replace(ctx.metadata, deploy_request_id=None, deploy_request_url="")
    _persist(ctx)
    ctx.writer.log(f"Deploy request #{number} {why}; resuming from the branch")


def _setup_branch(ctx: DriveContext) -> None:
    _move(ctx, A.PREPARING_BRANCH, started=True)
    _step(ctx, "create_branch")
    ctx.engine.ensure_branch(ctx.target)
    crash_point("create_branch", "after")
    _move(ctx, A.APPLYING_BRANCH_CHANGES)
    _step(ctx, "apply_branch_changes")
    applied = ctx.engine.apply_branch_changes(ctx.target)
    crash_point("apply_branch_changes", "after")
    if applied:
        ctx.writer.log(f"Applied {len(applied)} statement(s) to branch {ctx.target.branch}")
    _move(ctx, A.VALIDATING_BRANCH)
    _step(ctx, "validate_branch")
    ctx.engine.validate_branch(ctx.target)
    crash_point("validate_branch", "after")


def _create_deploy_request(ctx: DriveContext) -> None:
    assert ctx.metadata is not None
    _move(ctx, A.CREATING_DEPLOY_REQUEST)
    _step(ctx, "create_deploy_request")
    dr = ctx.engine.ensure_deploy_request(ctx.target, None)
    crash_point("create_deploy_request", "after")
    ctx.metadata = ctx.metadata.with_deploy_request(dr)
    _persist(ctx)
    ctx.writer.log(f"Deploy request #{dr.number} for branch {ctx.target.branch}")


def _validate_deploy_request(ctx: DriveContext, number: int) -> DeployRequest:
    if ctx.state == A.PENDING or ctx.state in SETUP_PHASE_STATES:
        _move(ctx, A.VALIDATING_DEPLOY_REQUEST, started=True)
    _step(ctx, "validate_deploy_request")
    try:
        dr = ctx.engine.validate_deploy_request(
            ctx.target,
            number,
            poll_interval=settings.TERNADMIN_ENGINE_POLL_SECONDS,
            timeout=settings.TERNADMIN_ENGINE_WAIT_SECONDS,
        )
    except EngineRejected as exc:
        raise DriveFailed(f"deploy request #{number} failed validation: {exc}") from exc
    crash_point("validate_deploy_request", "after")
    return dr


def _deploy(ctx: DriveContext, dr: DeployRequest) -> DeployRequest:
    assert ctx.metadata is not None
    if ctx.target.defer_deploy and not dr.deployed and not _start_requested(ctx):
        ctx.metadata = replace(ctx.metadata, deferred_deploy=True)
        _persist(ctx)
        _move(ctx, A.WAITING_FOR_DEPLOY)
        while not _start_requested(ctx):
            _check(ctx)
            stop = _pending_request(ctx, ControlOperation.STOP)
            if stop is not None:
                # A PlanetScale stop is a permanent cancel (domain.md §7.1, step 10).
                dr = ctx.engine.cancel(ctx.target, dr.number)
                ctx.writer.complete_request(stop.pk)
                return dr
            ctx.heartbeat.wait(settings.TERNADMIN_ENGINE_POLL_SECONDS)
    _step(ctx, "deploy")
    dr = ctx.engine.deploy(ctx.target, dr.number)
    crash_point("deploy", "after")
    if dr.deployed_at != ctx.metadata.deployed_at:
        ctx.metadata = ctx.metadata.with_deploy_request(dr)
        _persist(ctx)
    start = _pending_request(ctx, ControlOperation.START)
    if start is not None:
        ctx.writer.complete_request(start.pk)
    return dr


def _follow(ctx: DriveContext, dr: DeployRequest, *, skip_revert: bool) -> str:
    """Poll the deploy request, mirroring its progress, until it ends."""
    while True:
        _check(ctx)
        if dr.state in _FINAL:
            return _finish(ctx, dr)
        stop = _pending_request(ctx, ControlOperation.STOP)
        if stop is not None:
            ctx.engine.cancel(ctx.target, dr.number)
            ctx.writer.complete_request(stop.pk)
        elif dr.state == DR.PENDING_CUTOVER and (
            not ctx.target.defer_cutover or _pending_request(ctx, ControlOperation.CUTOVER)
        ):
            _step(ctx, "cutover")
            dr = ctx.engine.cutover(ctx.target, dr.number)
            cutover = _pending_request(ctx, ControlOperation.CUTOVER)
            if cutover is not None:
                ctx.writer.complete_request(cutover.pk)
        elif dr.state == DR.COMPLETE_PENDING_REVERT and skip_revert:
            dr = ctx.engine.skip_revert(ctx.target, dr.number)
        elif dr.state == DR.READY and not dr.deployed:
            # The deploy was refused for now (another deploy runs on this database): ask
            # again; a deploy is only ever issued for a ready, never-deployed request.
            dr = ctx.engine.deploy(ctx.target, dr.number)
        _move(ctx, dr.engine_state if dr.engine_state != A.PENDING else ctx.state)
        ctx.heartbeat.wait(settings.TERNADMIN_ENGINE_POLL_SECONDS)
        _check(ctx)
        dr = ctx.engine.get_deploy_request(ctx.target, dr.number)


def _finish(ctx: DriveContext, dr: DeployRequest) -> str:
    end = _FINAL[DR(dr.state)]
    error = None
    if end == A.FAILED:
        error = f"deploy request #{dr.number} ended in {dr.state}"
    _move(ctx, end, error=error)
    return end


def _pending_request(ctx: DriveContext, operation: ControlOperation) -> ApplyControlRequest | None:
    return (
        ApplyControlRequest.objects.using(settings.SCHEMABOT_DATABASE)
        .filter(apply_id=ctx.apply.pk, operation=operation, status=RequestStatus.PENDING)
        .first()
    )


def _start_requested(ctx: DriveContext) -> bool:
    return _pending_request(ctx, ControlOperation.START) is not None


def fail_apply(writer: DriveWriter, state: str, message: str) -> None:
    """End the apply as ``failed`` with ``message`` (lease-guarded; may raise LeaseLost)."""
    if state in TERMINAL_APPLY_STATES:
        return
    writer.transition(state, A.FAILED, message=f"Recovery failed: {message}", error=message)
    writer.log(message, event=LogEvent.ERROR)
