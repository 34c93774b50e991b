from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections
from django.db.models.signals import post_migrate

from ternadmin.config import ATTACH, STANDALONE, same_database


class AppliesConfig(AppConfig):
    name = "applies"
    verbose_name = "SchemaBot applies"

    def ready(self) -> None:
        from applies.checks import check_schemabot_windows, check_sweep

        checks.register(check_schemabot_schema, checks.Tags.database)
        checks.register(check_sweep)
        checks.register(check_schemabot_windows)
        post_migrate.connect(create_standalone_tables_after_migrate, sender=self)
        post_migrate.connect(ensure_sweep_schedule_after_migrate, sender=self)


def check_schemabot_schema(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Attach mode: every table and column ternadmin reads must exist (an Error otherwise).

    Tagged ``database`` so it runs for migrate and ``check --database schemabot`` but not for
    collectstatic on a build host; the servers verify at start in ``ternadmin.wsgi``.
    """
    from applies import db
    from applies.schema import missing_indexes, schema_problems

    if settings.SCHEMABOT_MODE != ATTACH:
        return []
    alias = db.alias()
    try:
        problems = schema_problems(alias)
        lacking = [] if problems else missing_indexes(alias)
    except DatabaseError as exc:
        return [checks.Error(f"Cannot read SchemaBot's database: {exc}", id="ternadmin.E001")]
    errors: list[checks.CheckMessage] = [
        checks.Error(
            f"SchemaBot's database is not usable: {problem}.",
            hint="Attach ternadmin to a database created by SchemaBot, or set "
            "SCHEMABOT_MODE=standalone for a database ternadmin may create.",
            id="ternadmin.E002",
        )
        for problem in problems
    ]
    errors.extend(
        checks.Warning(
            f"SchemaBot index {name} is missing; claim and list queries will scan instead.",
            id="ternadmin.W001",
        )
        for name in lacking
    )
    return errors


def create_standalone_tables_after_migrate(using: str, verbosity: int = 1, **kwargs: Any) -> None:
    """Standalone mode: ``migrate`` on the SchemaBot database (or the file both share) creates
    SchemaBot's tables; in attach mode this never runs DDL."""
    from applies import db
    from applies.schema import create_standalone_tables

    if settings.SCHEMABOT_MODE != STANDALONE:
        return
    alias = db.alias()
    shares = same_database(connections[using].settings_dict, connections[alias].settings_dict)
    if using != alias and not shares:
        return
    created = create_standalone_tables(alias)
    if created and verbosity >= 1:
        print(f"  Created SchemaBot tables (standalone): {', '.join(created)}")


def ensure_sweep_schedule_after_migrate(using: str, **kwargs: Any) -> None:
    """``migrate`` upserts the sweep's schedule (django-q2's tables live on ``default``)."""
    from applies.schedules import ensure_schedules

    if using == "default":
        ensure_schedules()
