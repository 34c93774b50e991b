"""The database's clock, as SQL expressions.

Staleness is always judged by the server that stores the heartbeat (``NOW()``), never by the
application host: a skewed app clock must not change which applies look dead. ``DbNow`` and
``SecondsAgo`` have whole-second precision, like SchemaBot's DATETIME columns; ``PreciseNow``
and ``SecondsUntil`` are sub-second, for ternadmin's own schedules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone


def now_sql(vendor: str) -> str:
    """``NOW()`` on the database, second precision, as SQL text."""
    return "datetime('now')" if vendor == "sqlite" else "NOW()"


def seconds_ago_sql(vendor: str, seconds: int) -> str:
    """``NOW() - INTERVAL n SECOND`` as SQL text (``n`` is a whole number, inlined)."""
    seconds = int(seconds)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if vendor == "sqlite":
        return f"datetime('now', '-{seconds} seconds')"
    return f"(NOW() - INTERVAL {seconds} SECOND)"


class _ClockExpression(models.Func):
    """An expression whose SQL depends only on the backend, not on any column."""

    output_field = models.DateTimeField()

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        return self.clock_sql(connection.vendor), []

    def clock_sql(self, vendor: str) -> str:
        raise NotImplementedError


class DbNow(_ClockExpression):
    """``NOW()`` on the database, second precision."""

    def clock_sql(self, vendor: str) -> str:
        return now_sql(vendor)


class SecondsAgo(_ClockExpression):
    """``NOW() - INTERVAL n SECOND`` on the database."""

    def __init__(self, seconds: int) -> None:
        self.seconds = int(seconds)  # a negative one is refused by ``seconds_ago_sql``
        super().__init__()

    def clock_sql(self, vendor: str) -> str:
        return seconds_ago_sql(vendor, self.seconds)


def precise_now_sql(vendor: str, plus_seconds: float = 0.0) -> str:
    """The database's ``NOW()`` plus ``plus_seconds``, to the millisecond or better, as SQL text
    (for ternadmin's own schedules: a drive due in 0.1 s must not wait a whole second)."""
    micros = round(float(plus_seconds) * 1_000_000)
    if vendor == "sqlite":
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '{micros / 1_000_000:+.6f} seconds')"
    return f"(NOW(6) + INTERVAL {micros} MICROSECOND)"


class PreciseNow(_ClockExpression):
    """``NOW()`` plus ``seconds`` on the database, sub-second (``precise_now_sql``)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = float(seconds)
        super().__init__()

    def clock_sql(self, vendor: str) -> str:
        return precise_now_sql(vendor, self.seconds)


class _ColumnAgainstNow(models.Func):
    """A timestamp column measured against the database's ``NOW()``, in SQL per vendor
    (``{column}`` stands for the column)."""

    sqlite_sql: str
    mysql_sql: str

    def __init__(self, column: str) -> None:
        super().__init__(models.F(column))

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        column_sql, params = compiler.compile(self.source_expressions[0])
        sql = self.sqlite_sql if connection.vendor == "sqlite" else self.mysql_sql
        return sql.format(column=column_sql), list(params)


class SecondsUntil(_ColumnAgainstNow):
    """Seconds (fractional) from the database's ``NOW()`` to a timestamp column: negative once
    it has passed, NULL when the column is."""

    output_field = models.FloatField()
    sqlite_sql = "((julianday({column}) - julianday('now')) * 86400.0)"
    mysql_sql = "(TIMESTAMPDIFF(MICROSECOND, NOW(6), {column}) / 1000000.0)"


class AgeSeconds(_ColumnAgainstNow):
    """Whole seconds from a timestamp column to the database's ``NOW()`` (the heartbeat age)."""

    output_field = models.IntegerField()
    sqlite_sql = "CAST(strftime('%%s', 'now') - strftime('%%s', {column}) AS INTEGER)"
    mysql_sql = "TIMESTAMPDIFF(SECOND, {column}, NOW())"


def database_now(using: str) -> datetime:
    """Read the current time from the database named ``using`` (an aware UTC datetime)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {now_sql(connection.vendor)}")
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value
