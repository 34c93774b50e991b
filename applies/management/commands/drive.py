"""Run one queued drive in the foreground: ``python manage.py drive 17``.

For ``TERNADMIN_DRIVE_MODE=manual``, where a claim records its drive and leaves it queued; a
drive another runner already took is left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from applies.drives.foreground import run_foreground


class Command(BaseCommand):
    help = "Drive a queued Drive row (manual mode) to its end, in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("drive_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        drive = run_foreground(options["drive_id"])
        if drive is None:
            raise CommandError(
                f"drive {options['drive_id']} is not a queued foreground drive (already taken, "
                "on the loops, or missing); nothing to do"
            )
        self.stdout.write(f"drive {drive.pk}: {drive.outcome} {drive.end_state}".rstrip())
