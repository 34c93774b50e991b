"""Apply-level claims: take over an apply exactly as SchemaBot's operator would.

``find_next_apply`` and ``claim_apply_by_id`` follow upstream ``FindNextApply`` and
``ClaimApplyByID`` (pkg/storage/mysqlstore/applies.go) for the configured line
(``applies.lines``): the same clauses (``applies.clauses``), the same claim writes (a new UUID
token, owner, ``lease_acquired_at = NOW()``; pending and failed_retryable move to running with
``completed_at = NULL``; a stopped apply with a start request moves to the line's stopped-claim
state under the target lock; a stopped apply with a pending cancel keeps its state and only
changes hands; active states only rotate the lease), oldest first, one row per short
transaction at READ COMMITTED.

How a claim runs, and why:

1. ``applies.candidates`` lists the oldest few rows some clause may take, through index ranges
   that never touch terminal history, and without locking anything.
2. For each candidate: ``SELECT … WHERE id = ? AND <clause CASE> IS NOT NULL FOR UPDATE SKIP
   LOCKED``. The clause is re-checked under the lock, so a row that a peer claimed a moment ago
   (fresh heartbeat now) or is holding right now is skipped, never waited for.
3. The claim write, and commit. A ``stopped`` apply with a start request is claimed in a second
   transaction under SchemaBot's target lock, refusing (by failing the start request) when
   another apply is active on the target.

``engines`` asks for applies ternadmin can drive: of those engines, and with at most one
operation (ternadmin has no driver for a multi-operation rollout; SchemaBot's operator drives
its operations one by one and never heartbeats the parent, so claiming it would fight them).

On SQLite (the single-process demo) there is no ``FOR UPDATE``; ``BEGIN IMMEDIATE`` serializes
writers, and the guarded ``UPDATE … WHERE state = ?`` still lets exactly one claimer win.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression, RawSQL

from applies import db
from applies.candidates import PAGE_SIZE, Candidate, CandidateQuery, apply_candidates
from applies.clauses import Clause, apply_clause_case, request_exists, several_operations_sql
from applies.dbclock import DbNow, now_sql
from applies.leases import Lease, new_token
from applies.lines import Line, current_line
from applies.models import Apply
from applies.states import ApplyState
from applies.target_lock import TargetLockTimeout, other_active_apply_exists, target_lock
from applies.vocabulary import ControlOperation, RequestStatus
from applies.windows import Windows

A = ApplyState
# Claims of these states start work: the row moves to running (stopped: the line's state).
STARTING_STATES = (A.PENDING, A.FAILED_RETRYABLE, A.STOPPED)


class ClaimError(Exception):
    """A claim was asked for in a way that can never succeed (e.g. no owner)."""


@dataclass(frozen=True)
class ApplyClaim:
    apply: Apply
    clause: Clause
    previous_state: str
    lease: Lease
    # Set when the claim came through an operation row (the operation-level path): the lease
    # on that row, which the drive heartbeats along with the apply.
    operation_lease: Lease | None = None


def require_owner(owner: str) -> None:
    if not owner or not owner.strip():
        raise ClaimError("a claim needs a non-empty lease owner")


def candidates(query: CandidateQuery) -> list[Candidate]:
    return [Candidate(int(row[0]), row[1]) for row in db.fetchall(query.sql, query.params)]


def first_claim(
    page: Callable[[Candidate | None], CandidateQuery],
    claim: Callable[[int], Any],
    skip: Collection[int] = (),
) -> Any:
    """Walk candidate pages oldest first until ``claim(id)`` takes one (keyset paging, so
    claimers that lose every row of a page move on instead of looping). ``skip``: rows this
    claimer already took (a pass never takes the same row twice)."""
    after: Candidate | None = None
    while True:
        found = candidates(page(after))
        for candidate in found:
            if candidate.id in skip:
                continue
            try:
                taken = claim(candidate.id)
            except TargetLockTimeout:
                continue  # a peer is busy with this target; the next pass retries it
            if taken is not None:
                return taken
        if len(found) < PAGE_SIZE:
            return None
        after = found[-1]


def claim_sets(owner: str, token: str) -> tuple[str, list[Any]]:
    """The lease columns every claim writes, with the heartbeat, by the database clock."""
    now = now_sql(db.vendor())
    return (
        f"updated_at = {now}, lease_owner = %s, lease_token = %s, lease_acquired_at = {now}",
        [owner, token],
    )


def single_operation_sql(apply_id_column: str) -> str:
    """At most one operation row: an apply ternadmin's driver can take whole."""
    return f"NOT {several_operations_sql(apply_id_column)}"


# --- finding and locking ---------------------------------------------------------------------


def find_next_apply(owner: str, *, engines: Sequence[str] | None = None) -> Apply | None:
    """Claim the oldest apply any clause takes; the claimed ``Apply`` (new lease) or ``None``."""
    claim = find_next_apply_claim(owner, engines=engines)
    return claim.apply if claim else None


def claim_apply_by_id(
    apply_id: int, owner: str, *, engines: Sequence[str] | None = None
) -> Apply | None:
    """Claim this apply if a clause takes it now; ``None`` when missing, locked or unclaimable."""
    claim = claim_apply(apply_id, owner, engines=engines)
    return claim.apply if claim else None


def find_next_apply_claim(
    owner: str, *, engines: Sequence[str] | None = None, skip: Collection[int] = ()
) -> ApplyClaim | None:
    require_owner(owner)
    windows, line = Windows.from_settings(), current_line()

    def page(after: Candidate | None) -> CandidateQuery:
        return apply_candidates(db.vendor(), windows, line=line, engines=engines, after=after)

    def claim(apply_id: int) -> ApplyClaim | None:
        return claim_apply(apply_id, owner, engines=engines, windows=windows)

    found: ApplyClaim | None = first_claim(page, claim, skip)
    return found


def claim_apply(
    apply_id: int,
    owner: str,
    *,
    engines: Sequence[str] | None = None,
    windows: Windows | None = None,
) -> ApplyClaim | None:
    """The claim of one apply by id, with the clause that took it."""
    require_owner(owner)
    windows, line = windows or Windows.from_settings(), current_line()
    lock = apply_lock(windows, line, len(engines or ()))
    with db.atomic():
        locked = lock_apply(lock, apply_id, engines)
        if locked is None:
            return None
        apply, clause = locked
        if apply.state != A.STOPPED:
            return write_apply_claim(apply, clause, owner, line)
        if line.stopped_cancel and request_pending(apply.pk, ControlOperation.CANCEL):
            # Cancel wins over a start pending at the same time (upstream persistApplyClaim).
            return _claim_stopped_for_cancel(apply, owner)
    # A stopped apply restarts only under the target lock (SchemaBot's GET_LOCK), re-checking
    # the clause and the one-active-apply rule with the lock held.
    return _claim_stopped(apply, owner, lock, engines, line)


@dataclass(frozen=True)
class LockQuery:
    """``SELECT <every column>, <clause CASE>, NOW() FROM applies WHERE id = %s AND <CASE> IS
    NOT NULL [AND engine IN (%s, …) AND <one operation>] FOR UPDATE SKIP LOCKED``, and the
    converters Django applies to its columns (aware datetimes, JSON)."""

    sql: str
    attnames: list[str]
    converters: list[tuple[int, list[Callable[..., Any]], Expression]]


# Built once per connection (its converters are bound to it), clause set, windows, line and
# engine count: building and compiling the equivalent queryset on every claim cost more CPU
# than the database spent running it (bench/claims.py).
_lock_queries: WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple[Any, ...], LockQuery]] = (
    WeakKeyDictionary()
)


CaseBuilder = Callable[[str, Windows, Line], str]


def apply_lock(
    windows: Windows, line: Line, engines: int, case: CaseBuilder = apply_clause_case
) -> LockQuery:
    """The lock query of the apply clauses, or of another clause CASE over ``applies``."""
    connection = db.connection()
    cached = _lock_queries.setdefault(connection, {})
    key = (case, windows, line.name, engines)
    if key not in cached:
        sql = case(connection.vendor, windows, line)
        cached[key] = _build_apply_lock(connection, sql, engines)
    return cached[key]


def _build_apply_lock(connection: BaseDatabaseWrapper, case: str, engines: int) -> LockQuery:
    quote, table = connection.ops.quote_name, Apply._meta.db_table
    fields = Apply._meta.concrete_fields
    db_now = DbNow()
    where = f"{quote(table)}.{quote(Apply._meta.pk.column)} = %s AND {case} IS NOT NULL"
    if engines:
        where += f" AND {quote(table)}.{quote('engine')} IN ({', '.join(['%s'] * engines)})"
        where += f" AND {single_operation_sql(f'{quote(table)}.id')}"
    columns = ", ".join(f"{quote(table)}.{quote(field.column)}" for field in fields)
    sql = (
        f"SELECT {columns}, {case}, {db_now.clock_sql(connection.vendor)}"
        f" FROM {quote(table)} WHERE {where}{skip_locked(connection)}"
    )
    expressions: list[Expression] = [field.get_col(table) for field in fields]
    expressions += [RawSQL(case, []), db_now]
    converters = [
        (position, functions, expression)
        for position, expression in enumerate(expressions)
        if (
            functions := connection.ops.get_db_converters(expression)
            + expression.get_db_converters(connection)
        )
    ]
    return LockQuery(sql, [field.attname for field in fields], converters)


def lock_apply(
    lock: LockQuery, apply_id: int, engines: Sequence[str] | None
) -> tuple[Apply, Clause] | None:
    """Lock the apply if its clause matches now: the ``Apply`` (with the database's ``NOW()`` as
    ``db_now``) and the clause that took it."""
    connection = db.connection()
    with connection.cursor() as cursor:
        cursor.execute(lock.sql, [int(apply_id), *(engines or ())])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, functions, expression in lock.converters:
        for function in functions:
            values[position] = function(values[position], expression, connection)
    apply = Apply.from_db(db.alias(), lock.attnames, values[: len(lock.attnames)])
    apply.claim_clause, apply.db_now = values[-2:]  # type: ignore[attr-defined]
    return apply, Clause(values[-2])


def skip_locked(connection: BaseDatabaseWrapper) -> str:
    """`` FOR UPDATE SKIP LOCKED`` where the backend has it (not SQLite: see the module doc)."""
    if not connection.features.has_select_for_update:
        return ""
    if not connection.features.has_select_for_update_skip_locked:
        raise NotSupportedError("SKIP LOCKED is not supported on this database backend.")
    return " " + connection.ops.for_update_sql(skip_locked=True)


# --- the claim writes ------------------------------------------------------------------------


def write_apply_claim(apply: Apply, clause: Clause, owner: str, line: Line) -> ApplyClaim | None:
    """Rotate the lease onto the locked apply; a starting claim also moves its state."""
    token = new_token()
    sets, params = claim_sets(owner, token)
    previous = apply.state
    if previous in STARTING_STATES:
        target = line.stopped_apply_claim_state if previous == A.STOPPED else A.RUNNING
        retry = previous == A.FAILED_RETRYABLE
        # Every starting claim clears completed_at (upstream transitionClaimToState).
        sets += ", completed_at = NULL"
        if retry:
            sets += ", attempt = attempt + 1, error_message = ''"
        sql = f"UPDATE applies SET state = %s, {sets} WHERE id = %s AND state = %s"
        if db.execute(sql, [line.spelling(target), *params, apply.pk, previous]) == 0:
            return None  # lost the race (SQLite); the row moved on
        apply.state, apply.completed_at = line.spelling(target), None
        if retry:
            apply.attempt += 1
            apply.error_message = ""
    else:
        db.execute(f"UPDATE applies SET {sets} WHERE id = %s", [*params, apply.pk])
    return _claimed(apply, clause, previous, owner, token)


def _claimed(apply: Apply, clause: Clause, previous: str, owner: str, token: str) -> ApplyClaim:
    db_now: datetime = apply.db_now  # type: ignore[attr-defined]
    apply.lease_owner, apply.lease_token = owner, token
    apply.lease_acquired_at = apply.updated_at = db_now
    return ApplyClaim(apply, clause, previous, Lease("applies", apply.pk, token, owner))


def request_pending(apply_id: int, operation: ControlOperation) -> bool:
    row = db.fetchone(f"SELECT {request_exists('%s', operation)}", [apply_id])
    return bool(row and row[0])


def _claim_stopped_for_cancel(apply: Apply, owner: str) -> ApplyClaim:
    """Deliver a cancel: the stopped apply changes hands and keeps its state; a start pending
    beside the cancel is failed, since nothing would ever consume it once the apply is
    cancelled (upstream claimStoppedApplyForCancel)."""
    fail_pending_start(apply.pk, "start refused: a cancel request is pending for this apply")
    token = new_token()
    sets, params = claim_sets(owner, token)
    db.execute(f"UPDATE applies SET {sets} WHERE id = %s", [*params, apply.pk])
    return _claimed(apply, Clause.STOPPED_CANCEL, apply.state, owner, token)


def _claim_stopped(
    apply: Apply, owner: str, lock: LockQuery, engines: Sequence[str] | None, line: Line
) -> ApplyClaim | None:
    with (
        target_lock(apply.database_name, apply.database_type, apply.environment),
        db.atomic(),
    ):
        locked = lock_apply(lock, apply.pk, engines)
        if locked is None or locked[1] is not Clause.STOPPED_START:
            return None
        apply = locked[0]
        if other_active_apply_exists(apply, line):
            where = f"{apply.database_name}/{apply.database_type}/{apply.environment}"
            fail_pending_start(apply.pk, f"start refused: another active apply exists for {where}")
            return None
        return write_apply_claim(apply, Clause.STOPPED_START, owner, line)


def fail_pending_start(apply_id: int, message: str) -> None:
    now = now_sql(db.vendor())
    db.execute(
        "UPDATE apply_control_requests SET status = %s, error_message = %s,"
        f" completed_at = COALESCE(completed_at, {now}), updated_at = {now}"
        " WHERE apply_id = %s AND operation = %s AND status = %s",
        [
            RequestStatus.FAILED,
            message,
            apply_id,
            ControlOperation.START,
            RequestStatus.PENDING,
        ],
    )
