"""Recording a claimed apply's drive, handing it to whatever runs drives, and pruning ended ones.

``launch_drive`` follows ``TERNADMIN_DRIVE_MODE``: ``loops`` (the default) records the drive as
due now and makes sure the drive loops run, so a drive costs a row, not a process; ``inline``
runs it to its end in the claimer's process (tests, debugging); ``manual`` records it queued
for ``manage.py drive <id>``. The claimer never waits for a drive on the loops: a sweep pass or
a console request returns as soon as the row is written.

Ended drives are history: ``prune_ended`` deletes those older than the sweep history keeps
(``TERNADMIN_SWEEP_HISTORY_DAYS``), so the table, and what ``/metrics`` counts over it on every
scrape, stays bounded. A drive still running or queued is kept however old it is.
"""

from __future__ import annotations

import logging

from django.conf import settings

from applies.claims import ApplyClaim
from applies.dbclock import PreciseNow
from applies.drives import slots
from applies.drives.schedule import end_drive
from applies.models import Drive
from applies.recovery.writer import DriveWriter

logger = logging.getLogger(__name__)
Outcome = Drive.Outcome


def record_drive(
    claim: ApplyClaim, *, trigger: str, requested_by: str = "", on_loops: bool = False
) -> Drive:
    """The drive row of a fresh claim: due now on the loops, or queued for a foreground runner.
    An older unfinished drive of the same apply is ended (the new claim took its lease), and the
    apply's timeline says a recovery starts, as SchemaBot's does (local_control_resume.go)."""
    operation = claim.operation_lease
    apply = claim.apply
    drive = Drive.objects.create(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        engine=apply.engine,
        owner=claim.lease.owner,
        lease_token=claim.lease.token,
        operation_id=operation.row_id if operation else None,
        operation_lease_token=operation.token if operation else "",
        trigger=trigger,
        requested_by=requested_by,
        clause=claim.clause.value,
        claimed_state=claim.previous_state,
        runner=Drive.Runner.LOOPS if on_loops else Drive.Runner.FOREGROUND,
        outcome=Outcome.RUNNING if on_loops else Outcome.QUEUED,
        next_due_at=PreciseNow() if on_loops else None,
    )
    older = Drive.objects.filter(apply_id=apply.pk, outcome__in=(Outcome.RUNNING, Outcome.QUEUED))
    for older_id in older.exclude(pk=drive.pk).values_list("pk", flat=True):
        end_drive(older_id, Outcome.LEASE_LOST, f"superseded by drive {drive.pk} (a new claim)")
    logger.info(
        "drive %s of apply %s (%s) recorded: %s claim from %s, %s",
        drive.pk,
        apply.pk,
        apply.apply_identifier,
        trigger,
        claim.previous_state,
        "on the loops" if on_loops else "for a foreground runner",
    )
    if apply.started_at is not None:
        DriveWriter(claim.lease, operation.row_id if operation else None).log(
            f"Recovering apply (heartbeat expired, was in {claim.previous_state} state)",
            drive=drive.pk,
        )
    return drive


def prune_ended(days: int) -> int:
    """Delete the drives that ended more than ``days`` days ago, by the database's clock; how
    many. ``started_at`` bounds the scan by its index: a drive ends after it starts."""
    cutoff = PreciseNow(-days * 86_400)
    ended = Drive.objects.filter(started_at__lt=cutoff, finished_at__lt=cutoff)
    deleted, _ = ended.exclude(outcome__in=(Outcome.RUNNING, Outcome.QUEUED)).delete()
    return deleted


def launch_drive(
    claim: ApplyClaim, *, trigger: str, requested_by: str = "", start_loops: bool = True
) -> Drive:
    """Record the drive of a fresh claim and hand it on, as ``TERNADMIN_DRIVE_MODE`` says.
    ``start_loops=False``: the caller makes sure the loops run (the sweep does, once a pass)."""
    mode = settings.TERNADMIN_DRIVE_MODE
    drive = record_drive(
        claim, trigger=trigger, requested_by=requested_by, on_loops=mode == "loops"
    )
    if mode == "loops" and start_loops:
        try:
            slots.start_loops()
        except Exception as exc:  # the drive is recorded: the next sweep pass starts the loops
            logger.warning("drive %s: could not start the drive loops: %s", drive.pk, exc)
    elif mode == "inline":
        from applies.drives.foreground import run_foreground  # engines: keep this lazy

        run_foreground(drive.pk)
        drive.refresh_from_db()
    return drive
