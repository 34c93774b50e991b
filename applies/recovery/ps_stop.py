"""Stop first: a pending stop (or cancel) request is honoured before anything is created.

SchemaBot processes a pending stop before it resumes anything (upstream
pkg/tern/local_control_resume.go, ``resumeApplyWithTasks`` step 2), and for PlanetScale a stop
is a permanent cancel: the deploy request is cancelled when there is one, the tasks and the
apply end ``cancelled``, the request is completed and the timeline says "Cancel requested: …
(deploy request cancelled)" (upstream pkg/tern/local_control.go, ``stopOwnedApply`` with
``stopTerminatesChange``). An apply in its revert window has already cut over: the stop is
refused and the request failed, as upstream does (``revertWindowStopRejectionMessage``).
"""

from __future__ import annotations

import contextlib

from applies.engines.base import EngineConflict, EngineNotFound, Next, finished
from applies.engines.planetscale.types import DeployRequestState
from applies.models import ApplyControlRequest
from applies.recovery.step_context import StepContext
from applies.states import TERMINAL_TASK_STATES, ApplyState
from applies.vocabulary import ControlOperation, LogEvent

A = ApplyState
DR = DeployRequestState
REVERT_PHASE_STATES = (A.REVERT_WINDOW, A.REVERTING, A.SKIPPING_REVERT)
_CANCELLED_ALREADY = (DR.IN_PROGRESS_CANCEL, DR.COMPLETE_CANCEL, DR.CANCELLED)
_LANDED = (DR.COMPLETE, DR.NO_CHANGES)


def pending_stop(ctx: StepContext) -> ApplyControlRequest | None:
    snap = ctx.snap
    return snap.pending(ControlOperation.CANCEL) or snap.pending(ControlOperation.STOP)


def honour_stop(ctx: StepContext) -> Next | None:
    """Handle a pending stop; ``None`` when there is none (or it was refused) and the drive
    goes on."""
    request = pending_stop(ctx)
    if request is None:
        return None
    if ctx.state in REVERT_PHASE_STATES:
        reason = (
            f"schema change {ctx.snap.apply.apply_identifier} is in its revert window and has "
            "already cut over; revert or skip the revert instead"
        )
        ctx.writer.complete_request(request.pk, failed=reason)
        ctx.writer.log(f"Pending stop request rejected: {reason}", event=LogEvent.STOP_REQUESTED)
        return None
    landed = _cancel_deploy_requests(ctx)
    if landed:
        # The change shipped before the stop arrived: the request is done, the drive
        # records the deploy request's outcome on its next step.
        ctx.writer.complete_request(request.pk)
        ctx.log(f"Stop requested after deploy request #{landed} completed; nothing to cancel")
        return None
    cancelled, skipped = _task_counts(ctx)
    what = "deploy request cancelled" if ctx.snap.metadata else "nothing was created yet"
    ctx.move(
        A.CANCELLED,
        message=f"Cancel requested: {cancelled} tasks cancelled, {skipped} skipped ({what})"
        + (f" (by {request.requested_by})" if request.requested_by else ""),
        event=LogEvent.STOP_REQUESTED,
        completes_request=request.pk,
    )
    return finished(A.CANCELLED)


def _cancel_deploy_requests(ctx: StepContext) -> int | None:
    """Cancel this apply's open deploy request(s); the number of one that already landed."""
    metadata = ctx.snap.metadata
    if metadata is None:
        return None  # nothing persisted: nothing was created, no engine call needed
    numbers = {dr.number for dr in ctx.client.open_deploy_requests(metadata.branch_name)}
    if metadata.deploy_request_id is not None:
        numbers.add(metadata.deploy_request_id)
    for number in sorted(numbers):
        try:
            dr = ctx.client.get_deploy_request(number)
        except EngineNotFound:
            continue
        if dr.branch != metadata.branch_name or dr.state in _CANCELLED_ALREADY:
            continue
        if dr.state in _LANDED:
            return number
        if dr.open:
            ctx.fence(f"cancelling deploy request #{number}")
            # A conflict: cancelled meanwhile, or finished; the next step re-reads it.
            with contextlib.suppress(EngineConflict):
                ctx.client.cancel(number)
    return None


def _task_counts(ctx: StepContext) -> tuple[int, int]:
    unfinished = sum(1 for task in ctx.snap.tasks if task.state not in TERMINAL_TASK_STATES)
    return unfinished, len(ctx.snap.tasks) - unfinished
