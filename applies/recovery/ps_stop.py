"""Stop first: a pending stop (or cancel) request is honoured before anything is created.

SchemaBot processes a pending stop before it resumes anything (upstream
pkg/tern/local_control_resume.go, ``resumeApplyWithTasks`` step 2), and for PlanetScale a stop
is a permanent cancel: the deploy request is cancelled when there is one, the tasks and the
apply end ``cancelled``, the request is completed and the timeline says "Cancel requested: …
(deploy request cancelled)" (upstream pkg/tern/local_control.go, ``stopOwnedApply`` with
``stopTerminatesChange``). An apply in its revert window has already cut over: the stop is
refused and the request failed, as upstream does (``revertWindowStopRejectionMessage``); so is
a stop whose deploy request is cutting over or has cut over, which PlanetScale no longer
cancels. A cancel PlanetScale rejects is re-read: the apply ends ``cancelled`` only when the
request really is cancelling or cancelled (upstream pkg/engine/planetscale/control.go).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from applies.engines.base import EngineConflict, EngineError, EngineNotFound, Next, finished
from applies.engines.planetscale.types import DeployRequest, DeployRequestState
from applies.models import ApplyControlRequest
from applies.recovery.step_context import StepContext
from applies.states import TERMINAL_TASK_STATES, ApplyState
from applies.vocabulary import ControlOperation, LogEvent

A = ApplyState
DR = DeployRequestState
REVERT_PHASE_STATES = (A.REVERT_WINDOW, A.REVERTING, A.SKIPPING_REVERT)
_CANCELLED_ALREADY = (DR.IN_PROGRESS_CANCEL, DR.COMPLETE_CANCEL, DR.CANCELLED)
_LANDED = (DR.COMPLETE, DR.NO_CHANGES)
# Cutting over, cut over, reverting or reverted: PlanetScale no longer cancels the request, and
# what it did is for the revert and skip-revert paths (upstream pkg/engine/planetscale/control.go,
# ``classifyCancelRejection``). A stop there is refused, like one in the revert window.
_PAST_CANCEL = (
    DR.IN_PROGRESS_CUTOVER,
    DR.COMPLETE_PENDING_REVERT,
    DR.IN_PROGRESS_REVERT,
    DR.IN_PROGRESS_REVERT_VSCHEMA,
    DR.COMPLETE_REVERT,
    DR.COMPLETE_REVERT_ERROR,
)


@dataclass
class _Cancelling:
    """What the stop found: the deploy requests it cancelled, or the one that rules it out."""

    cancelled: list[int] = field(default_factory=list)
    landed: DeployRequest | None = None
    past_cancel: DeployRequest | None = None
    branch: str = ""  # the branch whose deploy requests were looked for ("" when none)
    unknown_branch: bool = False  # resume state lost and nothing else names the branch


def pending_stop(ctx: StepContext) -> ApplyControlRequest | None:
    snap = ctx.snap
    return snap.pending(ControlOperation.CANCEL) or snap.pending(ControlOperation.STOP)


def honour_stop(ctx: StepContext) -> Next | None:
    """Handle a pending stop; ``None`` when there is none (or it was refused) and the drive
    goes on."""
    request = pending_stop(ctx)
    if request is None:
        return None
    identifier = ctx.snap.apply.apply_identifier
    if ctx.state in REVERT_PHASE_STATES:
        _refuse(
            ctx,
            request,
            f"schema change {identifier} is in its revert window and has already cut over; "
            "revert or skip the revert instead",
        )
        return None
    found = _cancel_deploy_requests(ctx)
    if found.landed is not None:
        # The change shipped before the stop arrived: the request is done, the drive
        # records the deploy request's outcome on its next step.
        ctx.writer.complete_request(request.pk)
        ctx.log(
            f"Stop requested after deploy request #{found.landed.number} completed; "
            "nothing to cancel"
        )
        return None
    if found.unknown_branch:
        _refuse(
            ctx,
            request,
            f"cannot look for the deploy request of schema change {identifier}: its resume "
            "state is lost and it has neither a branch option nor the plan that names its branch",
        )
        return None
    if found.past_cancel is not None:
        dr = found.past_cancel
        _refuse(
            ctx,
            request,
            f"schema change {identifier} can no longer be cancelled: deploy request "
            f"#{dr.number} is {dr.state}; revert or skip the revert once it has cut over",
        )
        return None
    cancelled, skipped = _task_counts(ctx)
    if found.cancelled:
        what = "deploy request cancelled"
    else:
        what = "no deploy request was open" if found.branch else "nothing was created yet"
    ctx.move(
        A.CANCELLED,
        message=f"Cancel requested: {cancelled} tasks cancelled, {skipped} skipped ({what})"
        + (f" (by {request.requested_by})" if request.requested_by else ""),
        event=LogEvent.STOP_REQUESTED,
        completes_request=request.pk,
    )
    return finished(A.CANCELLED)


def _refuse(ctx: StepContext, request: ApplyControlRequest, reason: str) -> None:
    ctx.writer.complete_request(request.pk, failed=reason)
    ctx.writer.log(f"Pending stop request rejected: {reason}", event=LogEvent.STOP_REQUESTED)


def _cancel_deploy_requests(ctx: StepContext) -> _Cancelling:
    """Cancel this apply's open deploy request(s), unless one of them already landed or is
    past the point where it can be cancelled."""
    snap = ctx.snap
    if snap.never_started:
        return _Cancelling()  # a first dispatch: nothing was created, no engine call needed
    if snap.metadata is not None:
        branch, persisted = snap.metadata.branch_name, snap.metadata.deploy_request_id
    else:
        # Resume state lost or unreadable on a started apply: its deploy request is looked
        # up by the branch name, as a resume rebuilds the state (``ps_branch``).
        named = snap.named_branch
        if named is None:
            return _Cancelling(unknown_branch=True)
        branch, persisted = named, None
    requests = _deploy_requests(ctx, branch, persisted)
    for dr in requests:
        if dr.state in _LANDED:
            return _Cancelling(landed=dr)
        if dr.state in _PAST_CANCEL:
            return _Cancelling(past_cancel=dr)
    found = _Cancelling(branch=branch)
    for dr in requests:
        if dr.state in _CANCELLED_ALREADY:
            found.cancelled.append(dr.number)
        elif dr.open:
            ruled_out = _cancel(ctx, dr)
            if ruled_out is not None:
                return ruled_out
            found.cancelled.append(dr.number)
    return found


def _deploy_requests(ctx: StepContext, branch: str, persisted: int | None) -> list[DeployRequest]:
    """The branch's open deploy requests, and the persisted one (which may be closed)."""
    found = {dr.number: dr for dr in ctx.client.open_deploy_requests(branch)}
    if persisted is not None and persisted not in found:
        try:
            dr = ctx.client.get_deploy_request(persisted)
        except EngineNotFound:
            pass
        else:
            if dr.branch == branch:
                found[dr.number] = dr
    return [found[number] for number in sorted(found)]


def _cancel(ctx: StepContext, dr: DeployRequest) -> _Cancelling | None:
    """Cancel ``dr``; when PlanetScale refuses, re-read it and say why: only a request that
    really is cancelling or cancelled counts as cancelled (upstream ``classifyCancelRejection``)."""
    ctx.fence(f"cancelling deploy request #{dr.number}")
    try:
        ctx.client.cancel(dr.number)
    except EngineConflict as exc:
        now = ctx.client.get_deploy_request(dr.number)
        if now.state in _LANDED:
            return _Cancelling(landed=now)
        if now.state in _PAST_CANCEL:
            return _Cancelling(past_cancel=now)
        if now.state not in _CANCELLED_ALREADY:
            raise EngineError(
                f"PlanetScale refused to cancel deploy request #{dr.number} in state "
                f"{now.state} ({exc}); the stop is tried again"
            ) from None
    return None


def _task_counts(ctx: StepContext) -> tuple[int, int]:
    unfinished = sum(1 for task in ctx.snap.tasks if task.state not in TERMINAL_TASK_STATES)
    return unfinished, len(ctx.snap.tasks) - unfinished
