"""Run one reclaim pass with the scheduler's code.

python manage.py sweep                 # claim stale work and start its drives
python manage.py sweep --dry-run --json  # what a pass would do; writes nothing
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from applies.owners import owner_id
from applies.sweep import run_sweep


class Command(BaseCommand):
    help = "One pass of the stale-claim sweep (the same function the schedule runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--limit", type=int, help="claim at most N units")
        parser.add_argument("--owner", help="lease owner (default host/pid/sweep)")

    def handle(self, *args: Any, **options: Any) -> None:
        report = run_sweep(
            owner=options["owner"] or owner_id("sweep"),
            dry_run=options["dry_run"],
            limit=options["limit"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.summary(), indent=2, default=str))
            return
        units = report.would_claim if report.dry_run else report.claimed
        verb = "would claim" if report.dry_run else "claimed"
        self.stdout.write(
            f"{verb} {len(units)}; expired {len(report.expired_retryable)}; "
            f"skipped {len(report.skipped)}; wedged {len(report.wedged)}; "
            f"errors {len(report.errors)}; {report.duration_s:.2f}s"
        )
        for unit in units:
            self.stdout.write(
                f"  {unit.apply_id} {unit.apply_identifier} {unit.state} "
                f"({unit.engine}) via {unit.clause}"
            )
        if report.brake.get("engaged"):
            self.stdout.write(f"BRAKE ENGAGED: {report.brake['reason']}")
        for error in report.errors:
            self.stderr.write(f"error: {error}")
