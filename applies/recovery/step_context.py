"""What one PlanetScale drive step works with, and its small verbs: move, persist, log, crash.

Every write goes through ``DriveWriter`` (lease-guarded); ``move`` writes the apply's new state
as it is entered, like SchemaBot's setup-phase events (upstream pkg/engine/planetscale/apply.go
emits ``NewState`` and the tern layer persists it). Every engine call that creates or changes
something passes ``fence`` first: the lease cannot tell two runners of one drive apart, the
drive's hold can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from applies.dbclock import SecondsAgo
from applies.engines.base import EngineAccessDenied, EngineNotFound, Fence, StepSuperseded
from applies.engines.planetscale.branch_changes import BranchWriter
from applies.engines.planetscale.client import PlanetScaleClient
from applies.engines.planetscale.config import PlanetScaleConfig
from applies.engines.planetscale.metadata import PlanetScaleMetadata
from applies.engines.planetscale.types import MAIN_BRANCH
from applies.lines import current_line
from applies.models import Apply, ApplyLog
from applies.recovery.crash import crash_point
from applies.recovery.snapshot import Snapshot
from applies.recovery.writer import DriveWriter
from applies.vocabulary import LogEvent, LogLevel


class DriveFailed(Exception):
    """The apply cannot go on; it is failed with this message."""


@dataclass
class StepContext:
    snap: Snapshot
    writer: DriveWriter
    client: PlanetScaleClient
    config: PlanetScaleConfig
    still_mine: Fence

    @property
    def state(self) -> str:
        return self.snap.apply.state

    @property
    def branch(self) -> str:
        return self.snap.branch

    def move(
        self,
        new_state: str,
        *,
        message: str = "",
        error: str | None = None,
        started: bool = False,
        event: LogEvent = LogEvent.STATE_TRANSITION,
        completes_request: int | None = None,
    ) -> None:
        """Enter ``new_state`` as the SchemaBot line spells it (nothing when already there);
        see ``DriveWriter.transition``."""
        new_state = current_line().spelling(new_state)
        if self.state == new_state:
            return
        self.writer.transition(
            self.state,
            new_state,
            message=message,
            error=error,
            started=started,
            event=event,
            completes_request=completes_request,
        )
        self.snap.apply.state = new_state

    def persist(self, metadata: PlanetScaleMetadata) -> None:
        crash_point("persist_resume_state", "before")
        self.writer.save_resume_state(self.snap.apply.apply_identifier, metadata.to_json())
        crash_point("persist_resume_state", "after")
        self.snap.metadata = metadata

    def fence(self, what: str) -> None:
        """Right before an engine call that creates or changes something: stop
        (``StepSuperseded``) unless this step still holds its drive. A runner whose hold lapsed
        while it stalled must not issue what the runner that took the drive over issues too
        (a second branch, deploy request or deploy)."""
        if not self.still_mine():
            raise StepSuperseded(f"{what} not issued: the step no longer holds its drive")

    def log(self, message: str, *, warn: bool = False) -> None:
        level = LogLevel.WARN if warn else LogLevel.INFO
        self.writer.log(message, level=level, event=LogEvent.INFO)

    def branch_writer(self) -> BranchWriter:
        return BranchWriter(
            self.client,
            self.branch,
            password_ttl=self.config.password_ttl_seconds,
            timeout=self.config.timeout_seconds,
            on_statement=self._on_statement,
        )

    def confirm_database(self) -> None:
        """Prove that the database answers before a 404 is taken to mean "gone": its main
        branch must be readable. When it is not, the 404s say that ternadmin's organization or
        token does not reach the database, and nothing may be forgotten or created for them
        (``EngineAccessDenied``)."""
        try:
            self.client.get_branch(MAIN_BRANCH)
        except EngineNotFound:
            raise EngineAccessDenied(
                f"PlanetScale answers 404 for database {self.snap.apply.database_name} and its "
                f"{MAIN_BRANCH} branch: ternadmin's organization or service token does not "
                "reach it (PLANETSCALE_ORGANIZATION, the token's access)"
            ) from None

    def _on_statement(self, when: Literal["before", "after"]) -> None:
        crash_point("branch_statement", when)
        if when == "before":
            self.fence(f"a DDL statement on branch {self.branch}")

    def waited_longer_than(self, seconds: float) -> bool:
        """Whether the apply has waited in its current state for more than ``seconds`` under
        the lease that holds it now, by the database's clock: both its timeline's last move
        into the state and the claim that took it are that old. A reclaimed apply's wait
        starts over with its claim, as upstream's in-process wait (``waitForBranchReady``) starts
        over with its driver; otherwise an apply reclaimed long after its driver died would be
        failed at the first look at a branch that is still getting ready."""
        cutoff = SecondsAgo(int(seconds))
        apply = self.snap.apply
        claimed_long_ago = Apply.objects.filter(pk=apply.pk, lease_acquired_at__lt=cutoff)
        if not claimed_long_ago.exists():
            return False
        logs = ApplyLog.objects
        entered = (
            logs.filter(apply_id=apply.pk, new_state=self.state)
            .filter(event_type=LogEvent.STATE_TRANSITION)
            .order_by("-id")
            .values_list("pk", flat=True)
            .first()
        )
        return entered is not None and logs.filter(pk=entered, created_at__lt=cutoff).exists()

    @property
    def metadata(self) -> PlanetScaleMetadata:
        assert self.snap.metadata is not None
        return self.snap.metadata
