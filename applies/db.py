"""Raw SQL on SchemaBot's database: its connection, its vendor, and one way to run a statement.

Claims, leases and fixes write SchemaBot's rows with hand-written, conditional SQL (the row
count says whether a compare-and-set won); they all go through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper


def alias() -> str:
    """The Django database alias of SchemaBot's database."""
    return str(settings.SCHEMABOT_DATABASE)


def connection() -> BaseDatabaseWrapper:
    return connections[alias()]


def vendor() -> str:
    """``mysql`` (MySQL and MariaDB) or ``sqlite``."""
    return str(connection().vendor)


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement; the number of rows it matched (MySQL: found rows, as Django asks)."""
    with connection().cursor() as cursor:
        cursor.execute(sql, list(params))
        return int(cursor.rowcount)


def fetchone(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    with connection().cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def fetchall(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection().cursor() as cursor:
        cursor.execute(sql, list(params))
        return [tuple(row) for row in cursor.fetchall()]
