"""Send SchemaBot's tables to the ``schemabot`` database and everything else to ``default``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model


def is_schemabot_model(model: type[Model]) -> bool:
    return bool(getattr(model, "lives_in_schemabot", False))


class SchemaBotRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return settings.SCHEMABOT_DATABASE if is_schemabot_model(model) else "default"

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return self.db_for_read(model, **hints)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return is_schemabot_model(type(obj1)) == is_schemabot_model(type(obj2))

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # Django migrations only ever run on ``default``. SchemaBot's tables are unmanaged:
        # in standalone mode ``applies.schema`` creates them, in attach mode nothing does.
        return db == "default"
