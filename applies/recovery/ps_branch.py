"""The branch half of a PlanetScale drive: from nothing to an open deploy request.

One call, one step: prepare the branch, change it, validate it, open the deploy request, each
re-reading the engine first (upstream pkg/engine/planetscale/apply.go ``Apply`` and
``resumeApply``): a taken branch name is reused, the branch's changes start from a diff of the
branch (only what is missing runs), the branch's open deploy request is found before one is
created. Missing or corrupt resume state is rebuilt from the deterministic branch name, the
branch's open deploy requests and, when nothing is found, a re-plan against production.
"""

from __future__ import annotations

from django.conf import settings

from applies.engines.base import (
    EngineConflict,
    EngineNotFound,
    EngineRejected,
    Next,
    finished,
    handed_back,
    poll_after,
    run_now,
)
from applies.engines.planetscale.branch_changes import branch_diff
from applies.engines.planetscale.metadata import PlanetScaleMetadata
from applies.engines.planetscale.types import MAIN_BRANCH, DeployRequest
from applies.recovery.crash import crash_point
from applies.recovery.ps_stop import REVERT_PHASE_STATES
from applies.recovery.step_context import DriveFailed, StepContext
from applies.states import ApplyState

A = ApplyState
BRANCH_POLL_SECONDS = 2.0  # upstream waitForBranchReady polls every 2 s
_AFTER_BRANCH_READY = (
    A.APPLYING_BRANCH_CHANGES,
    A.VALIDATING_BRANCH,
    A.CREATING_DEPLOY_REQUEST,
)


def start(ctx: StepContext) -> Next:
    """No resume state: a first dispatch persists the branch name before touching the engine;
    a started apply rebuilds it."""
    if ctx.snap.never_started:
        ctx.persist(PlanetScaleMetadata(branch_name=ctx.branch))
        ctx.move(A.PREPARING_BRANCH, started=True)
        return run_now()
    if ctx.state in REVERT_PHASE_STATES:
        # Upstream #770 refuses a fresh engine apply for a revert-phase apply without resume
        # state and leaves it claimable rather than failing it.
        return handed_back(f"no resume state for an apply in {ctx.state}; left for a later claim")
    return _rediscover(ctx)


def _rediscover(ctx: StepContext) -> Next:
    why = f"corrupt ({ctx.snap.metadata_problem})" if ctx.snap.metadata_problem else "missing"
    branch = ctx.branch
    dr = _existing_deploy_request(ctx, branch)
    if dr is not None:
        ctx.persist(PlanetScaleMetadata(branch_name=branch).with_deploy_request(dr))
        ctx.log(f"Resume state was {why}; found deploy request #{dr.number} of branch {branch}")
        return run_now()
    production = branch_diff(ctx.client, MAIN_BRANCH, ctx.snap.desired, ctx.snap.planned_ddl)
    if production.empty:
        ctx.log(
            f"Resume state was {why}; production already has the desired schema, so the "
            "apply is complete without creating anything"
        )
        ctx.move(A.COMPLETED)
        return finished(A.COMPLETED)
    ctx.persist(PlanetScaleMetadata(branch_name=branch))
    ctx.log(
        f"Resume state was {why}; no open deploy request for branch {branch}; production "
        f"still lacks {production.summary()}, so the apply goes on from branch {branch}"
    )
    ctx.move(A.PREPARING_BRANCH, started=True)
    return run_now()


def branch_step(ctx: StepContext) -> Next:
    """Resume state names a branch but no deploy request yet: the next branch step."""
    if ctx.state not in _AFTER_BRANCH_READY:
        return _prepare_branch(ctx)
    # Upstream waits for the branch before resuming on it, and starts over without it.
    try:
        branch = ctx.client.get_branch(ctx.branch)
    except EngineNotFound:
        ctx.confirm_database()
        ctx.log(f"Branch {ctx.branch} no longer exists; creating it again", warn=True)
        ctx.move(A.PREPARING_BRANCH)
        return run_now()
    if not branch.ready:
        return _wait_for_branch(ctx)
    if ctx.state == A.APPLYING_BRANCH_CHANGES:
        return _apply_changes(ctx)
    if ctx.state == A.VALIDATING_BRANCH:
        return _validate(ctx)
    return _open_deploy_request(ctx)


def _wait_for_branch(ctx: StepContext) -> Next:
    """Poll a branch that is not ready, for at most ``TERNADMIN_ENGINE_WAIT_SECONDS`` in this
    state (upstream ``waitForBranchReady`` gives up after 30 minutes and fails the apply)."""
    limit = settings.TERNADMIN_ENGINE_WAIT_SECONDS
    if ctx.waited_longer_than(limit):
        raise DriveFailed(f"branch {ctx.branch} not ready after {limit:g}s")
    return poll_after(BRANCH_POLL_SECONDS)


def _prepare_branch(ctx: StepContext) -> Next:
    ctx.move(A.PREPARING_BRANCH, started=True)
    crash_point("create_branch", "before")
    try:
        branch = ctx.client.get_branch(ctx.branch)
    except EngineNotFound:
        ctx.confirm_database()
        ctx.fence(f"creating branch {ctx.branch}")
        try:
            branch = ctx.client.create_branch(ctx.branch)
        except EngineConflict:  # a lost answer of our own create, or a racing driver
            branch = ctx.client.get_branch(ctx.branch)
        except EngineNotFound as exc:  # the token may read the database but not branch it
            return handed_back(f"creating branch {ctx.branch}: {exc}")
    crash_point("create_branch", "after")
    if not branch.ready:
        return _wait_for_branch(ctx)
    ctx.move(A.APPLYING_BRANCH_CHANGES)
    return run_now()


def _apply_changes(ctx: StepContext) -> Next:
    crash_point("apply_branch_changes", "before")
    diff = branch_diff(ctx.client, ctx.branch, ctx.snap.desired, ctx.snap.planned_ddl)
    if not diff.empty:
        ctx.fence(f"changing branch {ctx.branch}")
    changes = ctx.branch_writer().apply(diff, ctx.snap.planned_ddl)
    crash_point("apply_branch_changes", "after")
    if changes.empty:
        ctx.log(f"Branch {ctx.branch} already has every change; nothing to run")
    else:
        vschemas = f"VSchema of {', '.join(changes.vschemas)}; " if changes.vschemas else ""
        ctx.log(
            f"Applied {vschemas}{len(changes.statements)} DDL statement(s) to branch {ctx.branch}"
        )
    ctx.move(A.VALIDATING_BRANCH)
    return run_now()


def _validate(ctx: StepContext) -> Next:
    crash_point("validate_branch", "before")
    diff = branch_diff(ctx.client, ctx.branch, ctx.snap.desired, ctx.snap.planned_ddl)
    crash_point("validate_branch", "after")
    if not diff.empty:
        raise DriveFailed(
            f"branch validation failed: branch {ctx.branch} still differs from the desired "
            f"schema in {diff.summary()}"
        )
    ctx.move(A.CREATING_DEPLOY_REQUEST)
    return run_now()


def _open_deploy_request(ctx: StepContext) -> Next:
    crash_point("create_deploy_request", "before")
    dr = _find_or_create_deploy_request(ctx)
    crash_point("create_deploy_request", "after")
    ctx.persist(ctx.metadata.with_deploy_request(dr))
    ctx.log(f"Deploy request #{dr.number} for branch {ctx.branch}")
    ctx.move(A.VALIDATING_DEPLOY_REQUEST)
    return run_now()


def _find_or_create_deploy_request(ctx: StepContext) -> DeployRequest:
    # Looking first closes upstream's window: a crash after the create but before the number
    # was persisted finds the request instead of opening a second one.
    found = _existing_deploy_request(ctx, ctx.branch)
    if found is not None:
        return found
    auto_cutover = not ctx.snap.option("defer_cutover")
    # Only a branch SchemaBot named goes with its deploy request; one the user chose is kept,
    # as upstream's fresh apply does (pkg/engine/planetscale/apply.go, ``autoDeleteBranch``).
    auto_delete = not ctx.snap.option("branch")
    ctx.fence(f"opening a deploy request for branch {ctx.branch}")
    try:
        return ctx.client.create_deploy_request(
            ctx.branch, auto_cutover=auto_cutover, auto_delete_branch=auto_delete
        )
    except EngineRejected as exc:
        found = _existing_deploy_request(ctx, ctx.branch)  # a lost answer of our create
        if found is not None:
            return found
        raise exc from None


def _existing_deploy_request(ctx: StepContext, branch: str) -> DeployRequest | None:
    """The branch's open deploy request; the first one opened when there are several."""
    found = ctx.client.open_deploy_requests(branch)
    return min(found, key=lambda dr: dr.number) if found else None
