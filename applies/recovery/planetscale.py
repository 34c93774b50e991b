"""The PlanetScale driver: one step of an apply, from its persisted state.

``PlanetScaleDriver(apply_id).step(lease)`` re-reads the apply (``snapshot``), honours a pending
stop before any engine call (``ps_stop``), then does exactly one thing: persist the branch name
of a first dispatch or rebuild lost resume state (``ps_branch.start``), a branch step
(``ps_branch.branch_step``) or a deploy-request step (``ps_deploy``); and says what is next.
A runner repeats steps until one ends the drive; the step never waits itself.

Errors end the step in one of three ways: a lost lease writes nothing more; a rejection that
cannot pass (the engine's 4xx, a DDL error, unreadable schema files, a plan that disagrees with
its schema files) fails the apply, as upstream's permanent errors do; anything transient leaves
the apply as it is, claimable again once its heartbeat is stale. ternadmin's own access failing
(a token refused, a database whose main branch reads as not found) is handed back like a
transient error: a misconfigured ternadmin never ends an apply. A step that no longer holds
its drive stops before its next engine write (``StepContext.fence``) and says nothing: the
runner that took the drive over decides.
"""

from __future__ import annotations

import logging

from django.conf import settings

from applies.engines.base import (
    EngineError,
    EngineNotFound,
    EngineRejected,
    Fence,
    Next,
    failed,
    finished,
    handed_back,
    lease_lost,
)
from applies.engines.planetscale.client import PlanetScaleClient
from applies.engines.planetscale.config import PlanetScaleConfig
from applies.engines.planetscale.schema_files import SchemaFilesError
from applies.engines.planetscale.transport import Transport
from applies.engines.planetscale.types import MAIN_BRANCH
from applies.leases import Lease, LeaseLost
from applies.recovery import ps_branch, ps_deploy
from applies.recovery.ps_stop import honour_stop
from applies.recovery.snapshot import Snapshot, load_snapshot
from applies.recovery.step_context import DriveFailed, StepContext
from applies.recovery.writer import DriveWriter
from applies.states import TERMINAL_APPLY_STATES, ApplyState
from applies.vocabulary import ControlOperation, LogEvent

logger = logging.getLogger(__name__)


class PlanetScaleDrivers:
    """PlanetScale's ``DriverFactory``: one transport (an HTTP connection pool) shared by the
    drivers of every apply a runner steps."""

    def __init__(self, config: PlanetScaleConfig, *, transport: Transport | None = None) -> None:
        self.config = config
        self.transport = transport or Transport(config)

    @classmethod
    def from_settings(cls) -> PlanetScaleDrivers:
        return cls(PlanetScaleConfig.from_settings())

    def driver(self, apply_id: int) -> PlanetScaleDriver:
        return PlanetScaleDriver(apply_id, self.config, transport=self.transport)

    def close(self) -> None:
        self.transport.close()


class PlanetScaleDriver:
    def __init__(
        self, apply_id: int, config: PlanetScaleConfig, *, transport: Transport | None = None
    ) -> None:
        self.apply_id = apply_id
        self.config = config
        self._owns_transport = transport is None  # a shared one is its factory's to close
        self.transport = transport or Transport(config)

    def close(self) -> None:
        if self._owns_transport:
            self.transport.close()

    def step(self, lease: Lease, *, still_mine: Fence) -> Next:
        snap = load_snapshot(self.apply_id)
        if snap.apply.lease_token != lease.token:
            return lease_lost()
        if snap.apply.state in TERMINAL_APPLY_STATES and not _cancel_to_deliver(snap):
            return finished(snap.apply.state)
        writer = DriveWriter(lease, snap.operation.pk if snap.operation else None)
        client = PlanetScaleClient(
            self.transport, snap.apply.database_name, snap.apply.apply_identifier
        )
        ctx = StepContext(snap, writer, client, self.config, still_mine)
        try:
            return self._step(ctx)
        except LeaseLost as exc:
            return lease_lost(str(exc))
        except EngineNotFound as exc:
            return _not_found(ctx, exc)
        except (DriveFailed, EngineRejected, SchemaFilesError) as exc:
            return _fail(ctx, str(exc))
        except EngineError as exc:
            return _hand_back(self.apply_id, exc)

    def _step(self, ctx: StepContext) -> Next:
        # A pending stop comes first, before the plan is looked at, as upstream's resume
        # handles it (docs/schemabot.md, "Resume").
        stopped = honour_stop(ctx)
        if stopped is not None:
            return stopped
        if ctx.snap.plan is None:
            raise DriveFailed("plan not found during recovery")
        if ctx.snap.operation is None:
            # Nowhere to keep resume state: every step would start over with new engine calls.
            # Upstream's resume refuses such an apply too and leaves it as it is
            # (docs/schemabot.md, "Resume"); the drive's timeline says why it gives up.
            return handed_back(
                "the apply has no apply_operations row to keep its resume state on; "
                "it is not driven"
            )
        if ctx.branch == MAIN_BRANCH:
            # A change reaches production through a deploy request, never as DDL on the main
            # branch itself: upstream refuses the option outright (pkg/engine/planetscale/apply.go).
            raise DriveFailed(f"cannot reuse the {MAIN_BRANCH} branch: use a development branch")
        if ctx.snap.metadata is None:
            return ps_branch.start(ctx)
        if ctx.snap.metadata.deploy_request_id is None:
            return ps_branch.branch_step(ctx)
        return ps_deploy.deploy_request_step(ctx, settings.TERNADMIN_ENGINE_POLL_SECONDS)


def _cancel_to_deliver(snap: Snapshot) -> bool:
    """A stopped apply claimed for its pending cancel (the current line's stopped+cancel claim,
    upstream claimStoppedApplyForCancel): the step delivers it through the stop path."""
    return (
        snap.apply.state == ApplyState.STOPPED and snap.pending(ControlOperation.CANCEL) is not None
    )


def _hand_back(apply_id: int, exc: EngineError) -> Next:
    logger.warning("apply %s: engine: %s", apply_id, exc)
    return handed_back(f"engine: {exc}")


def _not_found(ctx: StepContext, exc: EngineNotFound) -> Next:
    """A 404 fails the apply only when the database itself answers; otherwise it says that
    ternadmin's organization or token does not reach it, which is no reason to end the apply."""
    try:
        ctx.confirm_database()
    except LeaseLost as lost:
        return lease_lost(str(lost))
    except EngineError as access:
        return _hand_back(ctx.snap.apply.pk, access)
    return _fail(ctx, str(exc))


def _fail(ctx: StepContext, message: str) -> Next:
    """End the apply as ``failed`` with ``message`` (lease-guarded)."""
    try:
        ctx.writer.transition(
            ctx.state, ApplyState.FAILED, message=f"Recovery failed: {message}", error=message
        )
        ctx.writer.log(message, event=LogEvent.ERROR)
    except LeaseLost as exc:
        return lease_lost(str(exc))
    return failed(message)
