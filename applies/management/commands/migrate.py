"""``migrate``, refusing to touch SchemaBot's database in attach mode.

Django would create ``django_migrations`` in any database it is pointed at, even with nothing to
migrate; in attach mode that database belongs to SchemaBot and must stay exactly as it is.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import connections

from ternadmin.config import ATTACH, same_database


class Command(DjangoMigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        database = options["database"]
        schemabot = settings.SCHEMABOT_DATABASE
        targets_schemabot = database == schemabot or same_database(
            connections[database].settings_dict, connections[schemabot].settings_dict
        )
        if settings.SCHEMABOT_MODE == ATTACH and targets_schemabot:
            raise CommandError(
                "SCHEMABOT_MODE=attach: ternadmin never runs migrations against SchemaBot's "
                "database. Run `migrate` without --database to set up ternadmin's own tables."
            )
        super().handle(*args, **options)
