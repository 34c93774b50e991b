"""Raw SQL on SchemaBot's database: its connection, its vendor, one way to run a statement, and
the quoting of our own constants.

Claims, leases, fixes and the console's bulk reads write and read SchemaBot's rows with
hand-written SQL (the row count says whether a compare-and-set won); they all go through here.
ORM queries on SchemaBot's models need nothing from this module: ``ternadmin.routers`` sends
them to SchemaBot's database already. Transactions are the one thing the router cannot pick,
hence ``atomic``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


def alias() -> str:
    """The Django database alias of SchemaBot's database."""
    return str(settings.SCHEMABOT_DATABASE)


def connection() -> BaseDatabaseWrapper:
    return connections[alias()]


def vendor() -> str:
    """``mysql`` (MySQL and MariaDB) or ``sqlite``."""
    return str(connection().vendor)


def atomic() -> transaction.Atomic:
    """A transaction on SchemaBot's database (a savepoint when one is open already)."""
    return transaction.atomic(using=alias())


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


def quoted(values: Iterable[str]) -> str:
    """A SQL list of our own constants (states, request words, engine names), inlined so that
    a statement's text stays fixed and the server can reuse its plan. Never user input: a value
    that is not a plain word is refused."""
    values = list(values)
    for value in values:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"not a state-like constant: {value!r}")
    return ", ".join(f"'{value}'" for value in values)


# MySQL/MariaDB client and server errors that mean "no usable connection right now": too many
# connections (1040), per-user limits (1203, 1226), the server shutting down or the connection
# killed (1053, 1927, 4031), cannot connect (2002, 2003), gone away or lost (2006, 2013).
UNAVAILABLE_ERRORS = frozenset({1040, 1053, 1203, 1226, 1927, 2002, 2003, 2006, 2013, 4031})


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says a database refused or lost the connection (or, on SQLite, stayed
    locked): a condition to wait out and retry, never a reason to give up on a drive."""
    if isinstance(exc, InterfaceError):
        return True  # a connection that is already closed
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    code = cause.args[0] if cause.args else None
    if isinstance(code, int):
        return code in UNAVAILABLE_ERRORS
    return "database is locked" in str(exc)
