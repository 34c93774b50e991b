"""Heartbeats of running drives, apart from their steps.

``beat(drives)`` refreshes the leases of many drives at once, by the database clock: one
statement for every apply (``WHERE (id, lease_token) IN …``) and one for every operation row a
drive holds (SchemaBot's drives heartbeat the operation rows they hold: pkg/api/operator.go,
``ApplyOperationHeartbeatInterval``). A lease that no longer matches was taken by another
claimer: its drive ends as ``lease_lost`` and writes nothing more.

Each drive loop beats its share of the drives running on the loops (``loop_leases``: drive id
modulo the number of loops), every ``TERNADMIN_HEARTBEAT_SECONDS``, from a thread of its own
(``loops``): however long the backlog of due steps, or however slow one step, a live drive's
apply never looks stale. Each apply is updated once per interval, not once per loop, so the
loops do not contend for its row. A loop also beats the share of every slot whose loop has not
proved alive within the last ``QUIET_BEATS`` heartbeats (dead, stalled, between generations),
so while any loop lives every drive is beaten: a dead loop's share within about two intervals.
A drive that ended (finished, failed, gave up) is no longer beaten, so its apply goes stale and
is claimed again normally; and when no loop is alive anywhere, nothing is beaten and the
staleness window hands the applies to whoever claims next. ``DriveHeartbeat`` does the same for
one foreground drive.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import F

from applies import db
from applies.dbclock import AgeSeconds
from applies.drives import slots
from applies.drives.schedule import end_drive, running_on_loops
from applies.leases import heartbeat_many
from applies.models import Apply, Drive

logger = logging.getLogger(__name__)
Outcome = Drive.Outcome
# A slot whose loop has not proved alive for this many heartbeats (it renews every one) has
# its share beaten by the other loops. Late by half a beat costs a few double beats, no more.
QUIET_BEATS = 1.5
_LEASE_COLUMNS = ("pk", "apply_id", "lease_token", "operation_id", "operation_lease_token")


@dataclass(frozen=True)
class Leases:
    """What a drive's heartbeat refreshes."""

    drive_id: int
    apply_id: int
    token: str
    operation_id: int | None
    operation_token: str

    @classmethod
    def of(cls, drive: Drive) -> Leases:
        return cls(
            drive.pk,
            drive.apply_id,
            drive.lease_token,
            drive.operation_id,
            drive.operation_lease_token,
        )

    @property
    def apply_lease(self) -> tuple[int, str]:
        return (self.apply_id, self.token)

    @property
    def operation_lease(self) -> tuple[int, str] | None:
        return (self.operation_id, self.operation_token) if self.operation_id else None


def running_leases() -> list[Leases]:
    """The leases of every drive running on the loops."""
    return [Leases(*row) for row in running_on_loops().values_list(*_LEASE_COLUMNS)]


def loop_leases(slot: int) -> list[Leases]:
    """The leases the loop of ``slot`` beats: its share of the running drives, and the share of
    every slot whose loop is quiet (see the module docstring)."""
    count = slots.loop_count()
    if count <= 1:
        return running_leases()
    within = QUIET_BEATS * float(settings.TERNADMIN_HEARTBEAT_SECONDS)
    shares = {slot} | slots.quiet_slots(within)
    if len(shares) >= count:
        return running_leases()
    mine = running_on_loops().annotate(share=F("pk") % count).filter(share__in=sorted(shares))
    return [Leases(*row) for row in mine.values_list(*_LEASE_COLUMNS)]


def oldest_heartbeat(drives: Iterable[Leases]) -> int | None:
    """Seconds since the stalest heartbeat (database clock) among the applies these drives
    still hold; None when they hold none."""
    held = {(d.apply_id, d.token) for d in drives}
    rows = (
        Apply.objects.using(db.alias())
        .filter(pk__in={apply_id for apply_id, _ in held})
        .annotate(age=AgeSeconds("updated_at"))
        .values_list("pk", "lease_token", "age")
    )
    ages = [int(age) for pk, token, age in rows if (pk, token) in held]
    return max(ages, default=None)


def beat(drives: Iterable[Leases]) -> list[int]:
    """Heartbeat every drive's leases; end those whose lease was lost. Their ids."""
    drives = list(drives)
    if not drives:
        return []
    # Lost is told by (id, token), never by id: two drives of one apply differ by their token.
    lost_applies = heartbeat_many("applies", [d.apply_lease for d in drives])
    operations = [d.operation_lease for d in drives if d.apply_lease not in lost_applies]
    lost_operations = heartbeat_many("apply_operations", [op for op in operations if op])
    lost = [
        d for d in drives if d.apply_lease in lost_applies or d.operation_lease in lost_operations
    ]
    for drive in lost:
        what = "apply" if drive.apply_lease in lost_applies else f"operation {drive.operation_id}"
        message = f"lease on the {what} lost: another claimer holds it now"
        if end_drive(drive.drive_id, Outcome.LEASE_LOST, message):
            logger.warning("drive %s (apply %s): %s", drive.drive_id, drive.apply_id, message)
    return [d.drive_id for d in lost]


class DriveHeartbeat:
    """One foreground drive's heartbeat thread: beats it every ``interval`` seconds; ``lost``
    is set once its lease is gone (the drive's row already says so)."""

    def __init__(self, drive: Drive, interval: float) -> None:
        self.leases = Leases.of(drive)
        self.interval = interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-drive-{drive.pk}")

    def __enter__(self) -> DriveHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait(self, seconds: float) -> None:
        """Sleep, waking early when the lease is lost."""
        self.lost.wait(seconds)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if beat([self.leases]):
                        self.lost.set()
                        return
                except Exception as exc:  # the database went away: keep trying, the window decides
                    logger.warning("heartbeat of drive %s failed: %s", self.leases.drive_id, exc)
        finally:
            connections.close_all()
