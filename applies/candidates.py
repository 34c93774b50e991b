"""Finding claim candidates without walking history (the read half of a claim).

Upstream finds the next apply with one ``OR`` of every clause, ``ORDER BY created_at LIMIT 1
FOR UPDATE SKIP LOCKED``. With terminal applies piling up forever that walks the whole table
(and, as a locking read with a filesort, locks every candidate it sorts). Here each clause is
its own small range on SchemaBot's ``idx_state_created_id`` (one ``UNION ALL`` branch per
state, each ``ORDER BY created_at, id LIMIT n``), and start requests are found from the other
side, through ``idx_apply_control_request_status``: a stopped apply with a start request is
one row among millions of stopped ones. None of this locks anything; ``claims`` then locks one
candidate by primary key with its clause re-checked.

Candidates come oldest first; a page after ``(created_at, id)`` continues where the last
ended (keyset), so claimers that lose every row of a page move on instead of looping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from applies.clauses import (
    CLAIMABLE_SQL,
    Windows,
    pending_start_exists,
    quoted,
)
from applies.dbclock import seconds_ago_sql
from applies.states import CLAIMABLE_APPLY_STATES, ApplyState

PAGE_SIZE = 16


@dataclass(frozen=True)
class Candidate:
    id: int
    created_at: datetime | str  # as the driver returns it; only used as a keyset bound


@dataclass(frozen=True)
class CandidateQuery:
    sql: str
    params: list[Any]


def _engine_filter(table: str, engines: Sequence[str] | None) -> str:
    return f" AND {table}.engine IN ({quoted(engines)})" if engines else ""


def _after(table: str, after: Candidate | None) -> tuple[str, list[Any]]:
    if after is None:
        return "", []
    sql = f" AND ({table}.created_at > %s OR ({table}.created_at = %s AND {table}.id > %s))"
    return sql, [after.created_at, after.created_at, after.id]


def _union(branches: list[str], params: list[Any], limit: int) -> CandidateQuery:
    # SQLite only allows ORDER BY/LIMIT inside a UNION member when it is wrapped in a
    # subquery; MySQL is fine either way.
    wrapped = [f"SELECT * FROM ({sql}) b{n}" for n, sql in enumerate(branches)]
    sql = " UNION ALL ".join(wrapped) + f" ORDER BY 2, 1 LIMIT {int(limit)}"
    return CandidateQuery(sql, params)


def apply_candidates(
    vendor: str,
    windows: Windows,
    *,
    engines: Sequence[str] | None = None,
    after: Candidate | None = None,
    limit: int = PAGE_SIZE,
) -> CandidateQuery:
    """Oldest applies that some apply clause (C1–C6) may claim, one index range per clause."""
    after_sql, after_params = _after("applies", after)
    tail = f"{_engine_filter('applies', engines)}{after_sql}"
    order = f" ORDER BY applies.created_at, applies.id LIMIT {int(limit)}"
    select = "SELECT applies.id, applies.created_at FROM applies WHERE "
    stale = f"applies.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    branches = [
        f"{select}applies.state = '{state}' AND {stale}{tail}{order}"
        for state in CLAIMABLE_APPLY_STATES
    ]
    A = ApplyState
    branches.append(
        f"{select}applies.state = '{A.PENDING}' AND ("
        "EXISTS (SELECT 1 FROM tasks t WHERE t.apply_id = applies.id)"
        " OR EXISTS (SELECT 1 FROM apply_operations o WHERE o.apply_id = applies.id)"
        f" OR {pending_start_exists('applies.id')}){tail}{order}"
    )
    branches.append(
        f"{select}applies.state = '{A.FAILED_RETRYABLE}'"
        f" AND applies.attempt < {int(windows.retry_budget)}"
        f" AND applies.updated_at >= {seconds_ago_sql(vendor, windows.retry_freshness)}"
        f"{tail}{order}"
    )
    # Start requests are few; the applies they point at are found by primary key.
    branches.append(
        "SELECT applies.id, applies.created_at FROM apply_control_requests cr"
        " JOIN applies ON applies.id = cr.apply_id"
        " WHERE cr.status = 'pending' AND cr.operation = 'start'"
        f" AND applies.state IN ('{A.STOPPED}', '{A.WAITING_FOR_DEPLOY}'){tail}{order}"
    )
    params = after_params * len(branches)
    return _union(branches, params, limit)


def operation_candidates(
    vendor: str,
    windows: Windows,
    *,
    after: Candidate | None = None,
    limit: int = PAGE_SIZE,
) -> CandidateQuery:
    """Oldest operation rows that some operation clause (O1–O5) may claim."""
    table = "apply_operations"
    after_sql, after_params = _after(table, after)
    order = f" ORDER BY {table}.created_at, {table}.id LIMIT {int(limit)}"
    select = f"SELECT {table}.id, {table}.created_at FROM {table} WHERE "
    stale = f"{table}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    A = ApplyState
    branches = [
        f"{select}{table}.state = '{state}' AND {stale}{after_sql}{order}"
        for state in CLAIMABLE_APPLY_STATES
    ]
    for state in (A.PENDING, A.FAILED_RETRYABLE):
        branches.append(f"{select}{table}.state = '{state}'{after_sql}{order}")
    # Stopped rows and deferred deploys are reached through their parent's start request;
    # a claimable row under a waiting_for_deploy parent may be fresh, so no staleness here.
    branches.append(
        f"SELECT {table}.id, {table}.created_at FROM apply_control_requests cr"
        f" JOIN {table} ON {table}.apply_id = cr.apply_id"
        " WHERE cr.status = 'pending' AND cr.operation = 'start'"
        f" AND {table}.state IN ('{A.STOPPED}', '{A.WAITING_FOR_DEPLOY}', {CLAIMABLE_SQL})"
        f"{after_sql}{order}"
    )
    params = after_params * len(branches)
    return _union(branches, params, limit)
