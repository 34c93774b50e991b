"""When seeding is allowed: standalone mode only, enough applies for the guaranteed cases,
SchemaBot's tables present, and empty unless a reset was asked for."""

from __future__ import annotations

from django.conf import settings

from applies import db
from applies.demo.catalogue import MINIMUM_APPLIES
from applies.models import SCHEMABOT_MODELS
from applies.schema import schema_problems
from ternadmin.config import STANDALONE


class SeedRefused(Exception):
    """Seeding would overwrite data or write into a database that is not ours to fill."""


class TablesNotEmpty(SeedRefused):
    """SchemaBot's tables already hold rows (and no reset was asked for)."""


def check_may_seed(*, applies: int, reset: bool) -> None:
    if settings.SCHEMABOT_MODE != STANDALONE:
        raise SeedRefused(
            f"SCHEMABOT_MODE={settings.SCHEMABOT_MODE}: seed_demo never writes demo data into a "
            "real SchemaBot database. Use SCHEMABOT_MODE=standalone with a scratch database."
        )
    if applies < MINIMUM_APPLIES:
        raise SeedRefused(f"--applies must be at least {MINIMUM_APPLIES} (the guaranteed cases).")
    if problems := schema_problems(db.alias()):
        raise SeedRefused(
            f"SchemaBot's tables are not ready ({problems[0]}); run `manage.py migrate` first."
        )
    filled = [m._meta.db_table for m in SCHEMABOT_MODELS if m.objects.exists()]
    if filled and not reset:
        raise TablesNotEmpty(
            f"SchemaBot's tables already hold rows ({', '.join(filled)}); nothing was written. "
            "Pass --reset to delete every row of the SchemaBot tables and seed again."
        )
