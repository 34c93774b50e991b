"""Inspect or release the mass-staleness brake: ``manage.py brake status|release``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from applies import brake


class Command(BaseCommand):
    help = "Show or release the sweep's mass-staleness brake."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "release"])
        parser.add_argument("--by", default="manage.py brake", help="who releases it")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "release":
            released = brake.release(by=options["by"])
            self.stdout.write("brake released" if released else "brake was not engaged")
            return
        state = brake.current()
        self.stdout.write(
            f"engaged: {state.reason}" if state.engaged else f"released ({state.reason or '-'})"
        )
