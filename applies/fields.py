"""Column types that match SchemaBot's DDL where Django's defaults differ."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class UnsignedAutoField(models.BigAutoField):
    """``bigint unsigned AUTO_INCREMENT``: SchemaBot's primary keys."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "bigint UNSIGNED AUTO_INCREMENT"
        return super().db_type(connection)

    def rel_db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "bigint UNSIGNED"
        return models.BigIntegerField().db_type(connection=connection)


class SecondsDateTimeField(models.DateTimeField):
    """``datetime`` with whole seconds (Django would create ``datetime(6)`` on MySQL).

    SchemaBot's timestamps have second precision; writing microseconds would round on MySQL and
    truncate on MariaDB, so we drop them before they leave Python.
    """

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "datetime"
        return super().db_type(connection)

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if isinstance(value, datetime):
            value = value.replace(microsecond=0)
        return super().get_db_prep_value(value, connection, prepared)


class HeartbeatField(SecondsDateTimeField):
    """``updated_at``: on MySQL it refreshes itself on every UPDATE, exactly like SchemaBot's.

    That auto-refresh is why every write ternadmin makes sets ``updated_at`` explicitly: either
    to ``NOW()`` (a heartbeat) or to its own value (a fix that must not look like a live driver).
    SQLite has no ``ON UPDATE``; the explicit writes keep both backends behaving alike.
    """

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "datetime ON UPDATE CURRENT_TIMESTAMP"
        return super().db_type(connection)


class UnsignedIntegerField(models.IntegerField):
    """``int unsigned`` (Django's PositiveIntegerField would add a CHECK constraint)."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "int UNSIGNED"
        return super().db_type(connection)


class TextColumn(models.TextField):
    """``text`` (64 KiB), as SchemaBot declares it; Django would create ``longtext``."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "text"
        return super().db_type(connection)
