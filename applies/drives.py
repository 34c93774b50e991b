"""Handing a claimed apply to the recovery driver, outside whoever claimed it.

A drive can take hours (deploy progress, cutover, revert window), so it never runs inside the
sweep's time budget or a web request, and never under django-q2's task ``timeout``: the
claimer records a ``Drive`` row and starts a detached ``manage.py drive <id>`` process
(``applies.tasks.start_drive``), which outlives the sweep task or the request that claimed.
The drive process first moves its ``Drive`` row from queued to running (compare-and-set), so a
second start for the same row (a redelivered sweep task, a retry) does nothing; and every write
it makes is guarded by the apply's lease, so a second driver could not write even if it ran.
"""

from __future__ import annotations

from django.conf import settings

from applies.claims import ApplyClaim
from applies.models import Drive
from applies.tasks import start_drive


def record_drive(claim: ApplyClaim, *, trigger: str, requested_by: str = "") -> Drive:
    operation = claim.operation_lease
    return Drive.objects.create(
        apply_id=claim.apply.pk,
        apply_identifier=claim.apply.apply_identifier,
        owner=claim.lease.owner,
        lease_token=claim.lease.token,
        operation_id=operation.row_id if operation else None,
        operation_lease_token=operation.token if operation else "",
        trigger=trigger,
        requested_by=requested_by,
        clause=claim.clause.value,
        claimed_state=claim.previous_state,
    )


def launch_drive(claim: ApplyClaim, *, trigger: str, requested_by: str = "") -> Drive:
    """Record the drive of a fresh claim and start it in the background."""
    drive = record_drive(claim, trigger=trigger, requested_by=requested_by)
    mode = settings.TERNADMIN_DRIVE_MODE
    if mode == "inline":
        from applies.recovery import run_drive  # the drive imports engines; keep this lazy

        run_drive(drive.pk)
    elif mode == "process":
        start_drive(drive.pk)
    # "manual": recorded and left queued, for `manage.py drive <id>` (tests, debugging).
    return drive
