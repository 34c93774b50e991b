"""Run one recorded drive (a ``Drive`` row a claimer queued): ``python manage.py drive 17``.

Started detached by ``applies.tasks.start_drive``; a drive already taken by another process
exits at once without doing anything.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from applies.recovery import run_drive


class Command(BaseCommand):
    help = "Drive a claimed apply recorded as a Drive row (used by the scheduler)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("drive_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        drive = run_drive(options["drive_id"])
        if drive is None:
            self.stdout.write("drive already taken by another process; nothing to do")
        else:
            self.stdout.write(f"drive {drive.pk}: {drive.outcome} {drive.end_state}".rstrip())
