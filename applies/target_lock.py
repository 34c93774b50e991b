"""SchemaBot's apply target lock and the one-active-apply-per-target rule (domain.md §3.4).

SchemaBot serializes every move of an apply into a non-terminal state on its target with a
MySQL named lock, ``GET_LOCK('schemabot_apply_<hex>', 10)``. Using the very same name makes
ternadmin and SchemaBot's drivers wait for each other. The write that the lock protects runs on
the same connection and commits while the lock is still held.

SQLite has no named locks; its single writer (``BEGIN IMMEDIATE``) already serializes the
demo's writes, so the lock is a no-op there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

from applies.clauses import TERMINAL_SQL

LOCK_WAIT_SECONDS = 10


class TargetLockTimeout(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"could not take the target lock {name} within {LOCK_WAIT_SECONDS} s: another "
            "writer holds it; try again"
        )


class ActiveApplyExists(Exception):
    def __init__(self, database: str, database_type: str, environment: str) -> None:
        super().__init__(
            f"another active apply exists for {database}/{database_type}/{environment}"
        )


def target_lock_name(database: str, database_type: str, environment: str) -> str:
    """``schemabot_apply_`` + hex of the first 16 bytes of SHA-256(db NUL type NUL env)."""
    digest = hashlib.sha256(f"{database}\0{database_type}\0{environment}".encode()).digest()
    return "schemabot_apply_" + digest[:16].hex()


@contextmanager
def target_lock(database: str, database_type: str, environment: str) -> Iterator[None]:
    """Hold SchemaBot's named lock for the target; the block's transaction commits inside it."""
    connection = connections[settings.SCHEMABOT_DATABASE]
    if connection.vendor != "mysql":
        yield
        return
    name = target_lock_name(database, database_type, environment)
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, LOCK_WAIT_SECONDS])
        if cursor.fetchone()[0] != 1:
            raise TargetLockTimeout(name)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [name])
        except Exception:
            # A lock we cannot release must not outlive us: drop the session that holds it.
            connection.close()
            raise


def other_active_apply_exists(
    *, apply_id: int, database: str, database_type: str, environment: str, deployment: str
) -> bool:
    """Whether another non-terminal apply holds the target (SchemaBot's 4-tuple check)."""
    connection = connections[settings.SCHEMABOT_DATABASE]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM applies WHERE database_name = %s AND database_type = %s"
            " AND environment = %s AND deployment = %s"
            f" AND state NOT IN ({TERMINAL_SQL}) AND id <> %s LIMIT 1",
            [database, database_type, environment, deployment, apply_id],
        )
        return cursor.fetchone() is not None
