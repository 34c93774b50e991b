"""Classify every non-terminal apply: claimable now, healthy, needs a human, or wedged.

python manage.py classify            # a table for people
python manage.py classify --json     # one object per apply, for scripts
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from applies.classify import live
from applies.models import Apply


class Command(BaseCommand):
    help = "Say, for each non-terminal apply, which claim path takes it, when, or why none will."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print a JSON list")
        parser.add_argument("--engine", action="append", help="only this engine (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        queryset = Apply.objects.all()
        if options["engine"]:
            queryset = queryset.filter(engine__in=options["engine"])
        classified = live(queryset)
        if options["json"]:
            self.stdout.write(json.dumps([c.as_json() for c in classified], indent=2))
            return
        for c in classified:
            self.stdout.write(
                f"{c.apply_id:>8}  {c.apply_identifier:<28} {c.state:<26} {c.engine:<12} "
                f"{c.classification.value:<14} {c.reason}"
            )
        if not classified:
            self.stdout.write("No non-terminal applies.")
