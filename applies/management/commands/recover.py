"""Claim one apply by id with the normal rules and drive it in the foreground.

python manage.py recover 42

Exit 0 when the apply reached an end state; non-zero, with the reason, when it could not be
claimed, the lease was lost, or the drive failed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from applies.claims import claim_apply
from applies.classify import classify
from applies.drives import record_drive
from applies.models import Apply, Drive
from applies.owners import owner_id
from applies.recovery import run_drive


class Command(BaseCommand):
    help = "Claim an apply by id (same rules as the sweep) and drive it to an end state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("apply_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        apply_id = options["apply_id"]
        apply = Apply.objects.using(settings.SCHEMABOT_DATABASE).filter(pk=apply_id).first()
        if apply is None:
            raise CommandError(f"apply {apply_id} does not exist")
        if apply.engine not in settings.TERNADMIN_ENGINES:
            raise CommandError(f"ternadmin does not drive engine {apply.engine!r}")
        claim = claim_apply(apply_id, owner_id("recover"), engines=settings.TERNADMIN_ENGINES)
        if claim is None:
            raise CommandError(f"apply {apply_id} is not claimable now: {classify(apply).reason}")
        drive = run_drive(record_drive(claim, trigger="command").pk)
        if drive is None or drive.outcome != Drive.Outcome.COMPLETED:
            reason = drive.message if drive else "the drive was taken by another process"
            outcome = drive.outcome if drive else "skipped"
            raise CommandError(f"apply {apply_id}: drive ended {outcome}: {reason}")
        self.stdout.write(f"apply {apply_id} reached {drive.end_state}")
