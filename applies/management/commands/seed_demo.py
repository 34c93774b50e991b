"""``seed_demo``: fill SchemaBot's tables with demo applies (standalone mode only).

The data and the rules about when seeding is allowed live in ``applies.demo``; this command
only parses options and prints.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import CommandError
from django.core.management.base import BaseCommand

from applies import demo
from applies.demo.fresh import create_fresh_apply


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
            help="Instead: create one never-driven pending apply for ENGINE (planetscale) as "
            "SchemaBot would, and print its id.",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=demo.DEFAULT_CHUNK,
            help=f"Applies per insert transaction (default {demo.DEFAULT_CHUNK}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        if options["fresh_apply"]:
            try:
                apply = create_fresh_apply(options["fresh_apply"])
            except demo.SeedRefused as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(str(apply.pk))
            return
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
