"""SchemaBot's apply target lock and the one-active-apply-per-target rule.

SchemaBot serializes every move of an apply into a non-terminal state on its target with a
MySQL named lock, ``GET_LOCK('schemabot_apply_<hex>', 10)`` (upstream
pkg/storage/mysqlstore/applies.go, ``applyTargetLockName``). Using the very same name makes
ternadmin and SchemaBot's drivers wait for each other. The write that the lock protects runs on
the same connection and commits while the lock is still held.

SQLite has no named locks; its single writer (``BEGIN IMMEDIATE``) already serializes the
demo's writes, so the lock is a no-op there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from applies import db, states
from applies.lines import Line
from applies.models import Apply

LOCK_WAIT_SECONDS = 10
_TERMINAL = db.quoted(states.TERMINAL_APPLY_STATES)
logger = logging.getLogger(__name__)


class TargetLockTimeout(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"could not take the target lock {name} within {LOCK_WAIT_SECONDS} s: another "
            "writer holds it; try again"
        )


def target_lock_name(database: str, database_type: str, environment: str) -> str:
    """``schemabot_apply_`` + hex of the first 16 bytes of SHA-256(db NUL type NUL env)."""
    digest = hashlib.sha256(f"{database}\0{database_type}\0{environment}".encode()).digest()
    return "schemabot_apply_" + digest[:16].hex()


@contextmanager
def target_lock(database: str, database_type: str, environment: str) -> Iterator[None]:
    """Hold SchemaBot's named lock for the target; the block's transaction commits inside it."""
    if db.vendor() != "mysql":
        yield
        return
    name = target_lock_name(database, database_type, environment)
    row = db.fetchone("SELECT GET_LOCK(%s, %s)", [name, LOCK_WAIT_SECONDS])
    if row is None or row[0] != 1:
        raise TargetLockTimeout(name)
    try:
        yield
    finally:
        _release(name)


def _release(name: str) -> None:
    """``RELEASE_LOCK``; a session that cannot say it released the lock is discarded.

    ``RELEASE_LOCK`` answers 0 when this session does not hold the lock and NULL when it does
    not exist: either way the session's lock state is not what we believe, and a pooled
    session must never carry a lock into its next use (upstream ``releaseApplyTargetLockConn``
    discards the connection). Closing it ends the session, which frees any lock it holds.
    """
    try:
        row = db.fetchone("SELECT RELEASE_LOCK(%s)", [name])
    except Exception:
        db.connection().close()
        raise
    if row is None or row[0] != 1:
        logger.warning("target lock %s was not held by this session; discarding it", name)
        db.connection().close()


def other_active_apply_exists(apply: Apply, line: Line) -> bool:
    """Whether another non-terminal apply holds the target: the 4-tuple at b2349ea; on the
    current line (#396) any deployment of the apply or its operations, matched against other
    applies' deployments and their operations' deployments."""
    where = (
        "a.database_name = %s AND a.database_type = %s AND a.environment = %s"
        f" AND a.state NOT IN ({_TERMINAL}) AND a.id <> %s"
    )
    params: list[object] = [apply.database_name, apply.database_type, apply.environment, apply.pk]
    if not line.operation_targets:
        sql = f"SELECT 1 FROM applies a WHERE {where} AND a.deployment = %s LIMIT 1"
        return db.fetchone(sql, [*params, apply.deployment]) is not None
    deployments = sorted(
        {apply.deployment}
        | {
            row[0]
            for row in db.fetchall(
                "SELECT deployment FROM apply_operations WHERE apply_id = %s", [apply.pk]
            )
        }
    )
    marks = ", ".join(["%s"] * len(deployments))
    sql = (
        f"SELECT 1 FROM applies a WHERE {where} AND (a.deployment IN ({marks})"
        " OR EXISTS (SELECT 1 FROM apply_operations o WHERE o.apply_id = a.id"
        f" AND o.deployment IN ({marks}))) LIMIT 1"
    )
    return db.fetchone(sql, [*params, *deployments, *deployments]) is not None
