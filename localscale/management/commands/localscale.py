"""``manage.py localscale serve|stats|reset``: run, inspect and empty the PlanetScale emulator."""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import CommandError
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from localscale import resetting, store
from localscale.calls import call_stats
from localscale.front import FrontServer
from localscale.models import Clock
from localscale.server import Reaper, make_localscale_server, server_url


class Command(BaseCommand):
    help = "Run the LocalScale PlanetScale emulator, print its call statistics, or reset it."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        serve = actions.add_parser("serve", help="Serve the emulator's API until stopped.")
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--port", type=int, default=settings.LOCALSCALE_PORT)
        serve.add_argument(
            "--mysql-port",
            type=int,
            default=settings.LOCALSCALE_MYSQL_PORT,
            help="The MySQL endpoint branch passwords connect to (default LOCALSCALE_MYSQL_PORT).",
        )
        serve.add_argument(
            "--time-scale",
            type=float,
            default=None,
            help="Divide every emulated duration by this (default LOCALSCALE_TIME_SCALE).",
        )
        stats = actions.add_parser("stats", help="Calls per apply identifier, by kind.")
        stats.add_argument("--json", action="store_true", help="Print JSON.")
        actions.add_parser(
            "reset",
            help="Forget all branches, deploy requests, calls, faults; drop their databases "
            "and accounts.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._check_tables()
        if options["action"] == "serve":
            self._serve(
                options["host"], options["port"], options["mysql_port"], options["time_scale"]
            )
        elif options["action"] == "stats":
            self._stats(as_json=options["json"])
        else:
            try:
                deleted = resetting.reset()
            except store.StoreError as exc:
                raise CommandError(f"LocalScale reset failed: {exc.message}") from None
            self.stdout.write(
                f"LocalScale reset: {sum(deleted.values())} rows, databases and accounts deleted."
            )

    def _check_tables(self) -> None:
        try:
            Clock.objects.exists()
        except DatabaseError:
            raise CommandError(
                "LocalScale's tables are missing: run `manage.py migrate` first."
            ) from None

    def _serve(self, host: str, port: int, mysql_port: int, time_scale: float | None) -> None:
        if time_scale is not None:
            if not time_scale > 0:
                raise CommandError("--time-scale must be greater than 0.")
            settings.LOCALSCALE_TIME_SCALE = time_scale
        try:
            server = make_localscale_server(host, port)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from None
        front, reaper = FrontServer(host, mysql_port), Reaper()
        try:
            front.start()
        except OSError as exc:
            server.server_close()
            raise CommandError(f"Cannot listen on {host}:{mysql_port}: {exc}") from None
        reaper.start()

        def stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() waits for serve_forever(), which runs on this (the main) thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        scale = settings.LOCALSCALE_TIME_SCALE
        where = (
            "databases on the branch server" if settings.LOCALSCALE_MYSQL_URL else "schema model"
        )
        self.stdout.write(
            f"LocalScale serving on {server_url(server)}, branch connections on "
            f"{host}:{front.port} ({where}; time scale {scale:g})"
        )
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()
            reaper.stop()
            front.stop()
        self.stdout.write("LocalScale stopped.")

    def _stats(self, *, as_json: bool) -> None:
        stats = call_stats()
        if as_json:
            self.stdout.write(json.dumps(stats, indent=2, sort_keys=True))
            return
        if not stats:
            self.stdout.write("No calls recorded.")
        for apply_identifier, counts in stats.items():
            self.stdout.write(apply_identifier or "(no apply identifier)")
            for name, count in counts.items():
                self.stdout.write(f"  {name:<24} {count}")
