"""Resume a claimed apply from its persisted engine state (domain.md §4).

``run_drive(drive_id)`` is what a drive process runs for a ``Drive`` row a claimer recorded:
take the row (queued → running, compare-and-set, so a duplicate delivery does nothing), check
the lease, log the recovery, heartbeat every ``TERNADMIN_HEARTBEAT_SECONDS`` while driving, and
record how it ended. A lost lease stops the drive within one heartbeat, having written nothing
more; an engine outage leaves the apply claimable again once its heartbeat goes stale.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections
from django.utils import timezone

from applies.engines.base import EngineError
from applies.engines.planetscale import PlanetScaleEngine
from applies.leases import Lease, LeaseLost, holds
from applies.models import Apply, Drive
from applies.recovery.heartbeats import Heartbeat
from applies.recovery.planetscale import DriveFailed, DriveStopped, drive_planetscale, fail_apply
from applies.recovery.stop import DELIVERIES, deliver
from applies.recovery.writer import DriveWriter
from applies.vocabulary import Engine

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
    if apply.engine != Engine.PLANETSCALE:
        return Outcome.ERROR, apply.state, f"no driver for engine {apply.engine}"
    operation = apply.operations.using(settings.SCHEMABOT_DATABASE).order_by("id").first()
    writer = DriveWriter(lease, operation.pk if operation else None)
    if apply.started_at is not None:
        writer.log(f"Recovering apply (heartbeat expired, was in {drive.claimed_state} state)")
    interval = settings.TERNADMIN_HEARTBEAT_SECONDS
    with Heartbeat(lease, interval, operation_lease) as heartbeat:
        engine = PlanetScaleEngine.from_settings()
        try:
            if drive.clause in DELIVERIES:  # a claim made to deliver a stop or a cancel
                end = deliver(drive.clause, apply, operation, engine, writer)
                return Outcome.COMPLETED, end, f"reached {end}"
            end = drive_planetscale(apply, engine, writer, heartbeat)
            return Outcome.COMPLETED, end, f"reached {end}"
        except (DriveStopped, LeaseLost) as exc:
            return Outcome.LEASE_LOST, "", str(exc)
        except DriveFailed as exc:
            current = Apply.objects.using(settings.SCHEMABOT_DATABASE).get(pk=apply.pk).state
            try:
                fail_apply(writer, current, str(exc))
            except LeaseLost:
                return Outcome.LEASE_LOST, "", str(exc)
            return Outcome.FAILED, "failed", str(exc)
        except EngineError as exc:
            # Transient or unexpected engine trouble: leave the apply as it is; its heartbeat
            # goes stale and the next sweep resumes it from the persisted state.
            return Outcome.ERROR, "", f"engine: {exc}"
        finally:
            engine.close()
