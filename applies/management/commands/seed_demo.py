"""``seed_demo``: fill SchemaBot's tables with demo applies (standalone mode only).

The data and the rules about when seeding is allowed live in ``applies.demo``; this command
only parses options and prints.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError
from django.core.management.base import BaseCommand

from applies import demo
from applies.demo.emulator import EmulatorUnreachable, Keyspaces, demo_databases, seed_emulator
from applies.demo.fresh import ORDERS_PLAN, create_fresh_apply
from applies.engines.planetscale.config import PlanetScaleConfig

MAX_FRESH = 10_000


class Command(BaseCommand):
    help = (
        "Fill SchemaBot's tables with a realistic mix of demo applies, including every case "
        "recovery must handle. Standalone mode only; refuses when the tables hold rows unless "
        "--reset is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--applies",
            type=int,
            default=demo.DEFAULT_APPLIES,
            help=f"How many applies (default {demo.DEFAULT_APPLIES}, "
            f"at least {demo.MINIMUM_APPLIES}).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help="Random seed; the same seed gives the same data (default fixed).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete every row of the seven SchemaBot tables first.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Seed only when the SchemaBot tables are empty; otherwise do nothing.",
        )
        parser.add_argument(
            "--fresh-apply",
            metavar="ENGINE",
            help="Instead: create never-driven pending applies for ENGINE (planetscale) as "
            "SchemaBot would (one, or --count), and print their ids, one a line.",
        )
        parser.add_argument(
            "--count",
            type=int,
            default=1,
            help="With --fresh-apply: how many applies, each on a database of its own "
            f"(1 to {MAX_FRESH}; default 1).",
        )
        parser.add_argument(
            "--seed-emulator",
            action="store_true",
            help="Also give the PlanetScale emulator (PLANETSCALE_API_URL) the production "
            "schema of the demo's PlanetScale databases (or of the fresh apply's), so that "
            "their drives change real tables. Databases it already has are left alone.",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=demo.DEFAULT_CHUNK,
            help=f"Applies per insert transaction (default {demo.DEFAULT_CHUNK}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        if options["count"] != 1 and not options["fresh_apply"]:
            raise CommandError("--count goes with --fresh-apply.")
        if options["fresh_apply"]:
            self._fresh(options["fresh_apply"], options["count"], options["seed_emulator"])
            return
        if options["seed_emulator"]:
            # Whether or not the applies are seeded now (a restarted demo keeps its rows), the
            # emulator learns every database it does not know yet.
            self._seed_emulator(demo_databases(options["seed"]), report=verbosity >= 1)
        if options["if_empty"] and options["reset"]:
            raise CommandError("--if-empty and --reset contradict each other; pass one.")
        try:
            report = demo.seed(
                options["applies"],
                seed=options["seed"],
                reset=options["reset"],
                chunk_size=options["chunk_size"],
                progress=self.stdout.write if verbosity >= 2 else None,
            )
        except demo.TablesNotEmpty as exc:
            if not options["if_empty"]:
                raise CommandError(str(exc)) from exc
            if verbosity >= 1:
                self.stdout.write("SchemaBot's tables already hold rows; left as they are.")
            return
        except demo.SeedRefused as exc:
            raise CommandError(str(exc)) from exc
        if verbosity >= 1:
            self.stdout.write(report.summary())

    def _fresh(self, engine: str, count: int, seed_emulator: bool) -> None:
        if not 1 <= count <= MAX_FRESH:
            raise CommandError(f"--count must be between 1 and {MAX_FRESH}, not {count}.")
        try:
            applies = [create_fresh_apply(engine, ORDERS_PLAN) for _ in range(count)]
        except demo.SeedRefused as exc:
            raise CommandError(str(exc)) from exc
        if seed_emulator:
            production = ORDERS_PLAN.production()
            self._seed_emulator({apply.database_name: production for apply in applies})
        self.stdout.write("\n".join(str(apply.pk) for apply in applies))

    def _seed_emulator(self, schemas: dict[str, Keyspaces], *, report: bool = False) -> None:
        try:
            seeded = seed_emulator(PlanetScaleConfig.from_settings(), schemas)
        except (EmulatorUnreachable, ImproperlyConfigured) as exc:
            raise CommandError(f"seeding the PlanetScale emulator failed: {exc}") from None
        if report and seeded:
            self.stdout.write(f"PlanetScale emulator: {len(seeded)} production database(s) seeded.")
