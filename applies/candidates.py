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

from applies.clauses import pending_start_exists
from applies.db import quoted
from applies.dbclock import seconds_ago_sql
from applies.lines import Line, current_line
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, RequestStatus
from applies.windows import Windows

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


# Requests that claim a row: start (stopped, deferred deploy) and, on the current line, cancel.
_PENDING = RequestStatus.PENDING.value
_CLAIMING_REQUESTS = quoted((ControlOperation.START, ControlOperation.CANCEL))


def apply_candidates(
    vendor: str,
    windows: Windows,
    *,
    line: Line | None = None,
    engines: Sequence[str] | None = None,
    after: Candidate | None = None,
    limit: int = PAGE_SIZE,
) -> CandidateQuery:
    """Oldest applies that some apply clause may claim, one index range per clause."""
    line = line or current_line()
    after_sql, after_params = _after("applies", after)
    tail = f"{_engine_filter('applies', engines)}{after_sql}"
    order = f" ORDER BY applies.created_at, applies.id LIMIT {int(limit)}"
    select = "SELECT applies.id, applies.created_at FROM applies WHERE "
    stale = f"applies.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    branches = [
        f"{select}applies.state = '{state}' AND {stale}{tail}{order}"
        for state in line.claimable_states
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
    # Start and cancel requests are few; the applies they point at are found by primary key.
    branches.append(
        "SELECT applies.id, applies.created_at FROM apply_control_requests cr"
        " JOIN applies ON applies.id = cr.apply_id"
        f" WHERE cr.status = '{_PENDING}' AND cr.operation IN ({_CLAIMING_REQUESTS})"
        f" AND applies.state IN ('{A.STOPPED}', '{A.WAITING_FOR_DEPLOY}'){tail}{order}"
    )
    params = after_params * len(branches)
    return _union(branches, params, limit)


def stop_reconciliation_candidates(
    *, line: Line | None = None, after: Candidate | None = None, limit: int = PAGE_SIZE
) -> CandidateQuery:
    """Applies with a pending stop request (few), oldest first; the clause decides."""
    line = line or current_line()
    after_sql, after_params = _after("applies", after)
    states = quoted((ApplyState.PENDING, ApplyState.PAUSED, *line.claimable_states))
    sql = (
        "SELECT applies.id, applies.created_at FROM apply_control_requests cr"
        " JOIN applies ON applies.id = cr.apply_id"
        f" WHERE cr.status = '{_PENDING}' AND cr.operation = '{ControlOperation.STOP}'"
        f" AND applies.state IN ({states}){after_sql}"
        f" ORDER BY applies.created_at, applies.id LIMIT {int(limit)}"
    )
    return CandidateQuery(sql, after_params)


def cutover_candidates(
    vendor: str,
    windows: Windows,
    *,
    after: Candidate | None = None,
    limit: int = PAGE_SIZE,
) -> CandidateQuery:
    """Operation rows parked at the barrier (any age) or stale mid-cutover, oldest first."""
    table = "apply_operations"
    after_sql, after_params = _after(table, after)
    order = f" ORDER BY {table}.created_at, {table}.id LIMIT {int(limit)}"
    select = f"SELECT {table}.id, {table}.created_at FROM {table} WHERE "
    stale = f"{table}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    A = ApplyState
    branches = [f"{select}{table}.state = '{A.WAITING_FOR_CUTOVER}'{after_sql}{order}"]
    branches += [
        f"{select}{table}.state = '{state}' AND {stale}{after_sql}{order}"
        for state in (A.CUTTING_OVER, A.REVERT_WINDOW)
    ]
    return _union(branches, after_params * len(branches), limit)


def operation_candidates(
    vendor: str,
    windows: Windows,
    *,
    line: Line | None = None,
    after: Candidate | None = None,
    limit: int = PAGE_SIZE,
) -> CandidateQuery:
    """Oldest operation rows that some operation clause may claim."""
    line = line or current_line()
    table = "apply_operations"
    after_sql, after_params = _after(table, after)
    order = f" ORDER BY {table}.created_at, {table}.id LIMIT {int(limit)}"
    select = f"SELECT {table}.id, {table}.created_at FROM {table} WHERE "
    stale = f"{table}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    A = ApplyState
    branches = [
        f"{select}{table}.state = '{state}' AND {stale}{after_sql}{order}"
        for state in line.claimable_states
    ]
    for state in (A.PENDING, A.FAILED_RETRYABLE):
        branches.append(f"{select}{table}.state = '{state}'{after_sql}{order}")
    # Stopped rows and deferred deploys are reached through their parent's start (or cancel)
    # request; a claimable row under a waiting_for_deploy parent may be fresh: no staleness.
    wanted = quoted((A.STOPPED, A.WAITING_FOR_DEPLOY, *line.claimable_states))
    branches.append(
        f"SELECT {table}.id, {table}.created_at FROM apply_control_requests cr"
        f" JOIN {table} ON {table}.apply_id = cr.apply_id"
        f" WHERE cr.status = '{_PENDING}' AND cr.operation IN ({_CLAIMING_REQUESTS})"
        f" AND {table}.state IN ({wanted}){after_sql}{order}"
    )
    params = after_params * len(branches)
    return _union(branches, params, limit)
