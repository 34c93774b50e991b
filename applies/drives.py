"""Handing a claimed apply to the recovery driver, outside whoever claimed it.

A drive can take hours (deploy progress, cutover, revert window), so it never runs inside the
sweep's time budget or a web request, and never under django-q2's task ``timeout``. The claimer
records a ``Drive`` row and enqueues ``applies.tasks.start_drive``; that task only starts a
detached ``manage.py drive <id>`` process and returns at once. The drive process first moves
its ``Drive`` row from queued to running (compare-and-set), so a redelivered task (django-q2
delivers at least once) finds it taken and does nothing; and every write it makes is guarded
by the apply's lease, so a second driver could not write even if it started.
"""

from __future__ import annotations

from django.conf import settings
from django_q.tasks import async_task

from applies.claims import ApplyClaim
from applies.models import Drive


def record_drive(claim: ApplyClaim, *, trigger: str, requested_by: str = "") -> Drive:
    return Drive.objects.create(
        apply_id=claim.apply.pk,
        apply_identifier=claim.apply.apply_identifier,
        owner=claim.lease.owner,
        lease_token=claim.lease.token,
        trigger=trigger,
        requested_by=requested_by,
        clause=claim.clause.value,
        claimed_state=claim.previous_state,
    )


def launch_drive(claim: ApplyClaim, *, trigger: str, requested_by: str = "") -> Drive:
    """Record the drive of a fresh claim and start it in the background."""
    drive = record_drive(claim, trigger=trigger, requested_by=requested_by)
    if settings.TERNADMIN_DRIVE_MODE == "inline":
        from applies.recovery import run_drive  # the drive imports engines; keep this lazy

        run_drive(drive.pk)
    else:
        async_task(
            "applies.tasks.start_drive",
            drive.pk,
            task_name=f"drive-{drive.pk}-{claim.apply.apply_identifier}"[:100],
            group="drives",
        )
    return drive
