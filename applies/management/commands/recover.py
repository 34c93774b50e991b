"""Claim one apply by id with the normal rules and drive it in the foreground.

python manage.py recover 42

The same steps as the drive loops, one after the other in this process, with a heartbeat of the
drive's own. Exit 0 when the apply reached an end state; non-zero, with the reason, when it
could not be claimed, the lease was lost, or the drive failed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from applies.claims import claim_apply
from applies.classify import classify
from applies.drives import record_drive
from applies.drives.foreground import run_foreground
from applies.engines import driven_engines, not_driven_reason
from applies.models import Apply, Drive
from applies.owners import owner_id


class Command(BaseCommand):
    help = "Claim an apply by id (same rules as the sweep) and drive it to an end state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("apply_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        apply_id = options["apply_id"]
        apply = Apply.objects.using(settings.SCHEMABOT_DATABASE).filter(pk=apply_id).first()
        if apply is None:
            raise CommandError(f"apply {apply_id} does not exist")
        if not_driven_reason(apply.engine):
            raise CommandError(not_driven_reason(apply.engine))
        claim = claim_apply(apply_id, owner_id("recover"), engines=driven_engines())
        if claim is None:
            raise CommandError(f"apply {apply_id} is not claimable now: {classify(apply).reason}")
        drive = run_foreground(record_drive(claim, trigger="command").pk)
        if drive is None or drive.outcome != Drive.Outcome.COMPLETED:
            reason = drive.message if drive else "the drive was taken by another runner"
            outcome = drive.outcome if drive else "skipped"
            raise CommandError(f"apply {apply_id}: drive ended {outcome}: {reason}")
        self.stdout.write(f"apply {apply_id} reached {drive.end_state}")
