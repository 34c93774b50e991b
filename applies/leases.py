"""Leases: proving ownership of an apply or operation row (docs/schemabot.md, "Leases and
heartbeats").

A lease is the row's ``lease_token`` as we wrote it when we claimed the row. Every later write
carries ``WHERE lease_token = <ours>``; zero matched rows means either the row is gone or another
claimer rotated the token. We re-check which, and raise ``LeaseLost`` for the latter, having
written nothing. ``updated_at`` is the heartbeat: a heartbeat is the same guarded ``UPDATE``
setting it to the database's ``NOW()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from applies import db
from applies.dbclock import now_sql

LeasedTable = Literal["applies", "apply_operations"]


class LeaseLost(Exception):
    """Another claimer holds the row now (or it is gone); the holder must stop writing."""

    def __init__(self, lease: Lease, detail: str = "") -> None:
        self.lease = lease
        what = "apply" if lease.table == "applies" else "apply operation"
        super().__init__(
            f"lease on {what} {lease.row_id} lost: the token was rotated by another claimer"
            + (f" ({detail})" if detail else "")
        )


@dataclass(frozen=True)
class Lease:
    table: LeasedTable
    row_id: int
    token: str
    owner: str


def new_token() -> str:
    return str(uuid.uuid4())


def holds(lease: Lease) -> bool:
    """Whether the row still carries our token (``CheckLease``)."""
    if lease.row_id <= 0 or not lease.token:
        return False
    sql = f"SELECT 1 FROM {lease.table} WHERE id = %s AND lease_token = %s"
    return db.fetchone(sql, [lease.row_id, lease.token]) is not None


def check_lease(lease: Lease) -> None:
    """Raise ``LeaseLost`` unless the row still carries our token."""
    if not holds(lease):
        raise LeaseLost(lease)


def guarded_update(
    lease: Lease,
    assignments: dict[str, Any],
    *,
    heartbeat: bool = True,
    expressions: Mapping[str, str] | None = None,
) -> None:
    """``UPDATE <table> SET … WHERE id = ? AND lease_token = ?``, or ``LeaseLost``.

    ``heartbeat`` sets ``updated_at = NOW()`` with the write (what a driver's writes do);
    ``False`` pins it, so the write cannot make a row look alive. ``expressions`` are columns
    set to SQL of our own (``COALESCE(started_at, NOW())``), never to input.
    """
    columns = [f"{column} = %s" for column in assignments]
    columns += [f"{column} = {sql}" for column, sql in (expressions or {}).items()]
    now = now_sql(db.vendor())
    columns.append(f"updated_at = {now}" if heartbeat else "updated_at = updated_at")
    sql = f"UPDATE {lease.table} SET {', '.join(columns)} WHERE id = %s AND lease_token = %s"
    # MySQL counts matched rows (Django's backend sets CLIENT.FOUND_ROWS), so an UPDATE that
    # changes nothing within the same second still says 1.
    if db.execute(sql, [*assignments.values(), lease.row_id, lease.token]) == 0:
        check_lease(lease)  # raises when the token is gone


# Rows per heartbeat statement: a few hundred (id, token) pairs keep one statement short.
HEARTBEAT_CHUNK = 500


def heartbeat_many(table: LeasedTable, leases: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
    """Refresh the heartbeat of every ``(row id, token)`` at once, by the database clock, and
    return the pairs whose row no longer carries that token (those leases are lost).

    One ``UPDATE … WHERE id IN (…) AND (id, lease_token) IN (…)`` per few hundred rows, however
    many applies are in flight: the pairs make it the same guard as a single heartbeat, and the
    ``id IN`` list keeps it on the primary key everywhere (MariaDB range-scans the key for the
    pairs alone; SQLite would scan the table). Fewer matched rows than pairs: the pairs still
    held are read back to tell which were lost. Lost is a pair, never a bare id: two drives of
    one apply (an old claim's and the new one's) differ only by their token.
    """
    lost: set[tuple[int, str]] = set()
    pairs = [(int(row_id), token) for row_id, token in leases if row_id > 0 and token]
    lost.update((int(row_id), token) for row_id, token in leases if row_id > 0 and not token)
    for start in range(0, len(pairs), HEARTBEAT_CHUNK):
        lost |= _heartbeat_chunk(table, pairs[start : start + HEARTBEAT_CHUNK])
    return lost


def _heartbeat_chunk(table: LeasedTable, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    ids = ", ".join(["%s"] * len(pairs))
    tuples = ", ".join(["(%s, %s)"] * len(pairs))
    where = f"id IN ({ids}) AND (id, lease_token) IN ({tuples})"
    params: list[Any] = [row_id for row_id, _ in pairs]
    params += [value for pair in pairs for value in pair]
    matched = db.execute(
        f"UPDATE {table} SET updated_at = {now_sql(db.vendor())} WHERE {where}", params
    )
    if matched >= len(pairs):
        return set()
    held = db.fetchall(f"SELECT id, lease_token FROM {table} WHERE {where}", params)
    return set(pairs) - {(int(row_id), str(token)) for row_id, token in held}
