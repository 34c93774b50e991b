"""Claim one apply by id with the normal rules and drive it in the foreground.

python manage.py recover 42 [--reason "INC-7: driver host lost"]

The claim is the console's reclaim (``applies.services.actions``, without a "what I saw": the
operator names only the id), with the same audit row in the apply's timeline. The drive is the
drive loops' steps, one after the other in this process, with a heartbeat of its own. Exit 0
when the apply reached an end state; non-zero, with the reason, when it could not be claimed,
the lease was lost, or the drive failed.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from applies.drives import record_drive
from applies.drives.foreground import run_foreground
from applies.models import Drive
from applies.owners import owner_id
from applies.services.actions import claim_for_operator
from applies.services.errors import Refusal, Refused

DEFAULT_REASON = "recovered from the command line (manage.py recover)"


class Command(BaseCommand):
    help = "Claim an apply by id (same rules as the sweep) and drive it to an end state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("apply_id", type=int)
        parser.add_argument(
            "--reason",
            default=DEFAULT_REASON,
            help="Why, for the apply's timeline (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        apply_id = options["apply_id"]
        try:
            claim = claim_for_operator(
                apply_id,
                actor=_operator(),
                reason=options["reason"],
                seen=None,
                owner=owner_id("recover"),
            )
        except Refused as refused:
            if refused.code is Refusal.NOT_CLAIMABLE:
                raise CommandError(f"apply {apply_id} is not claimable now: {refused}") from None
            raise CommandError(f"apply {apply_id}: {refused}") from None
        drive = run_foreground(record_drive(claim, trigger="command").pk)
        if drive is None or drive.outcome != Drive.Outcome.COMPLETED:
            reason = drive.message if drive else "the drive was taken by another runner"
            outcome = drive.outcome if drive else "skipped"
            raise CommandError(f"apply {apply_id}: drive ended {outcome}: {reason}")
        self.stdout.write(f"apply {apply_id} reached {drive.end_state}")


def _operator() -> str:
    """Who runs the command, for the audit row: the login name of this process."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "command line"
