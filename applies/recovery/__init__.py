"""Resume a claimed apply from its persisted engine state (upstream resumeApplyWithTasks).

``run_drive(drive_id)`` is what a drive process runs for a ``Drive`` row a claimer recorded:
take the row (queued → running, compare-and-set, so a duplicate delivery does nothing), check
the lease, log the recovery, run the driver's steps (``runner``) with a heartbeat every
``TERNADMIN_HEARTBEAT_SECONDS``, and record how it ended. A lost lease stops the drive within
one heartbeat, having written nothing more; an engine outage leaves the apply claimable again
once its heartbeat goes stale.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections
from django.utils import timezone

from applies.engines import driver_for
from applies.engines.base import Then
from applies.leases import Lease, holds
from applies.models import Apply, Drive
from applies.recovery.heartbeats import Heartbeat
from applies.recovery.runner import run_steps
from applies.recovery.writer import DriveWriter

logger = logging.getLogger(__name__)
Outcome = Drive.Outcome


def take_drive(drive_id: int) -> Drive | None:
    """Queued → running, once: ``None`` when another process already took it."""
    taken = Drive.objects.filter(pk=drive_id, outcome=Outcome.QUEUED).update(
        outcome=Outcome.RUNNING
    )
    return Drive.objects.get(pk=drive_id) if taken else None


def run_drive(drive_id: int) -> Drive | None:
    drive = take_drive(drive_id)
    if drive is None:
        return None
    lease = Lease("applies", drive.apply_id, drive.lease_token, drive.owner)
    try:
        outcome, end_state, message = _drive(drive, lease, _operation_lease(drive))
    except Exception as exc:  # recorded; the apply stays claimable once stale
        logger.exception("drive %s of apply %s crashed", drive.pk, drive.apply_id)
        outcome, end_state, message = Outcome.ERROR, "", f"{type(exc).__name__}: {exc}"
    finally:
        connections[settings.SCHEMABOT_DATABASE].close_if_unusable_or_obsolete()
    Drive.objects.filter(pk=drive.pk).update(
        outcome=outcome, end_state=end_state, message=message[:2000], finished_at=timezone.now()
    )
    drive.refresh_from_db()
    return drive


def _operation_lease(drive: Drive) -> Lease | None:
    if drive.operation_id is None or not drive.operation_lease_token:
        return None
    return Lease("apply_operations", drive.operation_id, drive.operation_lease_token, drive.owner)


def _drive(drive: Drive, lease: Lease, operation_lease: Lease | None) -> tuple[str, str, str]:
    if not holds(lease):
        return Outcome.LEASE_LOST, "", "the lease was taken before the drive started"
    apply = Apply.objects.using(settings.SCHEMABOT_DATABASE).get(pk=drive.apply_id)
    operation = apply.operations.using(settings.SCHEMABOT_DATABASE).order_by("id").first()
    if apply.started_at is not None:
        DriveWriter(lease, operation.pk if operation else None).log(
            f"Recovering apply (heartbeat expired, was in {drive.claimed_state} state)"
        )
    driver = driver_for(apply)
    if driver is None:
        return Outcome.ERROR, apply.state, f"no driver for engine {apply.engine}"
    try:
        # SchemaBot's drives heartbeat the operation rows they hold too (pkg/api/operator.go,
        # ApplyOperationHeartbeatInterval). A drive claimed to deliver a stop or a cancel runs
        # the same steps: the driver honours a pending stop before any other engine work.
        interval = settings.TERNADMIN_HEARTBEAT_SECONDS
        with Heartbeat(lease, interval, operation_lease) as heartbeat:
            end = run_steps(driver, lease, heartbeat)
    finally:
        driver.close()
    return _OUTCOMES[end.then], end.state, end.message


_OUTCOMES = {
    Then.FINISHED: Outcome.COMPLETED,
    Then.FAILED: Outcome.FAILED,
    Then.LEASE_LOST: Outcome.LEASE_LOST,
    Then.HANDED_BACK: Outcome.ERROR,
}
