"""Create or update the sweep's django-q2 schedule (idempotent): ``manage.py ensure_schedules``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from applies.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Upsert the reclaim sweep's schedule by name; safe to run any number of times."

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = ensure_schedules()
        self.stdout.write(f"{schedule.name}: {schedule.func} every {schedule.minutes} minute(s)")
