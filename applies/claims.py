"""Claim paths: take over an apply or operation exactly as SchemaBot's operator would.

``find_next_apply``, ``claim_apply_by_id`` and ``find_next_apply_operation`` follow domain.md
§3.2, §3.3 and §3.7: the same clauses (``applies.clauses``), the same claim writes (a new UUID
token, owner, ``lease_acquired_at = NOW()``; pending/failed_retryable/stopped move to
``running``; active states only rotate the lease), oldest first, one row per short transaction
at READ COMMITTED.

How a claim runs, and why:

1. ``applies.candidates`` lists the oldest few rows some clause may take, through index ranges
   that never touch terminal history, and without locking anything.
2. For each candidate: ``SELECT … WHERE id = ? AND <clause CASE> IS NOT NULL FOR UPDATE SKIP
   LOCKED``. The clause is re-checked under the lock, so a row that a peer claimed a moment ago
   (fresh heartbeat now) or is holding right now is skipped, never waited for.
3. The claim write, and commit. A ``stopped`` apply is claimed in a second transaction under
   SchemaBot's target lock, refusing (by failing the start request) when another apply is
   active on the target.

On SQLite (the single-process demo) there is no ``FOR UPDATE``; ``BEGIN IMMEDIATE`` serializes
writers, and the guarded ``UPDATE … WHERE state = ?`` still lets exactly one claimer win.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import NotSupportedError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, OuterRef
from django.db.models.expressions import Expression, RawSQL

from applies.candidates import PAGE_SIZE, Candidate, apply_candidates, operation_candidates
from applies.clauses import Clause, Windows, apply_clause_case, operation_clause_case
from applies.dbclock import DbNow, now_sql
from applies.leases import Lease, new_token
from applies.models import Apply, ApplyControlRequest, ApplyOperation
from applies.states import ApplyState
from applies.target_lock import TargetLockTimeout, other_active_apply_exists, target_lock
from applies.vocabulary import ControlOperation, RequestStatus

# What a starting claim (pending, failed_retryable, stopped + start) moves the row to.
# SchemaBot b2349ea writes ``running``; HEAD writes ``resuming`` for stopped, a state b2349ea
# drivers would not know, so ternadmin keeps the b2349ea value.
STARTED_STATE = ApplyState.RUNNING
STARTING_STATES = (ApplyState.PENDING, ApplyState.FAILED_RETRYABLE, ApplyState.STOPPED)


class ClaimError(Exception):
    """A claim was asked for in a way that can never succeed (e.g. no owner)."""


@dataclass(frozen=True)
class ApplyClaim:
    apply: Apply
    clause: Clause
    previous_state: str
    lease: Lease


@dataclass(frozen=True)
class OperationClaim:
    operation: ApplyOperation
    clause: Clause
    previous_state: str
    lease: Lease


def _db() -> str:
    return str(settings.SCHEMABOT_DATABASE)


def _vendor() -> str:
    return connections[_db()].vendor


def _require_owner(owner: str) -> None:
    if not owner or not owner.strip():
        raise ClaimError("a claim needs a non-empty lease owner")


def _candidates(sql: str, params: list[Any]) -> list[Candidate]:
    with connections[_db()].cursor() as cursor:
        cursor.execute(sql, params)
        return [Candidate(int(row[0]), row[1]) for row in cursor.fetchall()]


def _execute(sql: str, params: list[Any]) -> int:
    with connections[_db()].cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


# --- apply-level ------------------------------------------------------------------------------


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


def find_next_apply_claim(owner: str, *, engines: Sequence[str] | None = None) -> ApplyClaim | None:
    _require_owner(owner)
    windows = Windows.from_settings()
    after: Candidate | None = None
    while True:
        query = apply_candidates(_vendor(), windows, engines=engines, after=after)
        page = _candidates(query.sql, query.params)
        for candidate in page:
            try:
                claim = claim_apply(candidate.id, owner, engines=engines, windows=windows)
            except TargetLockTimeout:
                continue  # a peer is busy with this target; the next pass retries it
            if claim is not None:
                return claim
        if len(page) < PAGE_SIZE:
            return None
        after = page[-1]


def claim_apply(
    apply_id: int,
    owner: str,
    *,
    engines: Sequence[str] | None = None,
    windows: Windows | None = None,
) -> ApplyClaim | None:
    """The claim of one apply by id, with the clause that took it."""
    _require_owner(owner)
    windows = windows or Windows.from_settings()
    with transaction.atomic(using=_db()):
        locked = _lock_apply(apply_id, windows, engines)
        if locked is None:
            return None
        apply, clause = locked
        if clause is not Clause.STOPPED_START:
            return _write_apply_claim(apply, clause, owner)
    # A stopped apply restarts only under the target lock (SchemaBot's GET_LOCK), re-checking
    # the clause and the one-active-apply rule with the lock held.
    return _claim_stopped(apply, owner, windows, engines)


def _lock_apply(
    apply_id: int, windows: Windows, engines: Sequence[str] | None
) -> tuple[Apply, Clause] | None:
    """Lock the apply if a clause takes it now (step 2): the ``Apply``, with the clause that
    took it and the database's ``NOW()`` as ``claim_clause`` and ``db_now``."""
    connection = connections[_db()]
    lock = _apply_lock(connection, windows, len(engines or ()))
    with connection.cursor() as cursor:
        cursor.execute(lock.sql, [int(apply_id), *(engines or ())])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, functions, expression in lock.converters:
        for function in functions:
            values[position] = function(values[position], expression, connection)
    apply = Apply.from_db(_db(), lock.attnames, values[: len(lock.attnames)])
    apply.claim_clause, apply.db_now = values[-2:]  # type: ignore[attr-defined]
    return apply, Clause(values[-2])


@dataclass(frozen=True)
class _LockQuery:
    """``SELECT <every column>, <clause CASE>, NOW() FROM applies WHERE id = %s AND <CASE> IS
    NOT NULL [AND engine IN (%s, …)] FOR UPDATE SKIP LOCKED``, and the converters Django applies
    to its columns (aware datetimes, JSON)."""

    sql: str
    attnames: list[str]
    converters: list[tuple[int, list[Callable[..., Any]], Expression]]


# Built once per connection (its converters are bound to it), windows and engine count: building
# and compiling the equivalent queryset on every claim cost more CPU than the database spent
# running it (bench/claims.py).
_lock_queries: WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple[Windows, int], _LockQuery]] = (
    WeakKeyDictionary()
)


def _apply_lock(connection: BaseDatabaseWrapper, windows: Windows, engines: int) -> _LockQuery:
    cached = _lock_queries.setdefault(connection, {})
    if (windows, engines) not in cached:
        cached[windows, engines] = _build_apply_lock(connection, windows, engines)
    return cached[windows, engines]


def _build_apply_lock(
    connection: BaseDatabaseWrapper, windows: Windows, engines: int
) -> _LockQuery:
    quote, table = connection.ops.quote_name, Apply._meta.db_table
    fields = Apply._meta.concrete_fields
    case = apply_clause_case(connection.vendor, windows)
    db_now = DbNow()
    where = f"{quote(table)}.{quote(Apply._meta.pk.column)} = %s AND {case} IS NOT NULL"
    if engines:
        where += f" AND {quote(table)}.{quote('engine')} IN ({', '.join(['%s'] * engines)})"
    columns = ", ".join(f"{quote(table)}.{quote(field.column)}" for field in fields)
    sql = (
        f"SELECT {columns}, {case}, {db_now.clock_sql(connection.vendor)}"
        f" FROM {quote(table)} WHERE {where}{_skip_locked(connection)}"
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
    return _LockQuery(sql, [field.attname for field in fields], converters)


def _skip_locked(connection: BaseDatabaseWrapper) -> str:
    """`` FOR UPDATE SKIP LOCKED`` where the backend has it (not SQLite: see the module doc)."""
    if not connection.features.has_select_for_update:
        return ""
    if not connection.features.has_select_for_update_skip_locked:
        raise NotSupportedError("SKIP LOCKED is not supported on this database backend.")
    return " " + connection.ops.for_update_sql(skip_locked=True)


def _claim_sets(owner: str, token: str) -> tuple[str, list[Any]]:
    now = now_sql(_vendor())
    return (
        f"updated_at = {now}, lease_owner = %s, lease_token = %s, lease_acquired_at = {now}",
        [owner, token],
    )


def _write_apply_claim(apply: Apply, clause: Clause, owner: str) -> ApplyClaim | None:
    token = new_token()
    sets, params = _claim_sets(owner, token)
    previous = apply.state
    if previous in STARTING_STATES:
        retry = previous == ApplyState.FAILED_RETRYABLE
        if retry:
            sets += ", attempt = attempt + 1, error_message = ''"
        if retry or previous == ApplyState.STOPPED:
            sets += ", completed_at = NULL"
        sql = f"UPDATE applies SET state = %s, {sets} WHERE id = %s AND state = %s"
        if _execute(sql, [STARTED_STATE.value, *params, apply.pk, previous]) == 0:
            return None  # lost the race (SQLite); the row moved on
        apply.state = STARTED_STATE.value
        if retry:
            apply.attempt += 1
            apply.error_message = ""
        if retry or previous == ApplyState.STOPPED:
            apply.completed_at = None
    else:
        _execute(f"UPDATE applies SET {sets} WHERE id = %s", [*params, apply.pk])
    db_now: datetime = apply.db_now  # type: ignore[attr-defined]
    apply.lease_owner, apply.lease_token = owner, token
    apply.lease_acquired_at = apply.updated_at = db_now
    return ApplyClaim(apply, clause, previous, Lease("applies", apply.pk, token, owner))


def _claim_stopped(
    apply: Apply, owner: str, windows: Windows, engines: Sequence[str] | None
) -> ApplyClaim | None:
    with (
        target_lock(apply.database_name, apply.database_type, apply.environment),
        transaction.atomic(using=_db()),
    ):
        locked = _lock_apply(apply.pk, windows, engines)
        if locked is None or locked[1] is not Clause.STOPPED_START:
            return None
        apply = locked[0]
        if other_active_apply_exists(
            apply_id=apply.pk,
            database=apply.database_name,
            database_type=apply.database_type,
            environment=apply.environment,
            deployment=apply.deployment,
        ):
            _refuse_start(apply)
            return None
        return _write_apply_claim(apply, Clause.STOPPED_START, owner)


def _refuse_start(apply: Apply) -> None:
    message = (
        "start refused: another active apply exists for "
        f"{apply.database_name}/{apply.database_type}/{apply.environment}"
    )
    ApplyControlRequest.objects.using(_db()).filter(
        apply_id=apply.pk, operation=ControlOperation.START, status=RequestStatus.PENDING
    ).update(status=RequestStatus.FAILED, error_message=message, updated_at=DbNow())


# --- operation-level --------------------------------------------------------------------------


def find_next_apply_operation(
    owner: str, *, engines: Sequence[str] | None = None
) -> ApplyOperation | None:
    """Claim the oldest operation row any operation clause takes, or ``None``."""
    claim = find_next_operation_claim(owner, engines=engines)
    return claim.operation if claim else None


def find_next_operation_claim(
    owner: str, *, engines: Sequence[str] | None = None
) -> OperationClaim | None:
    _require_owner(owner)
    windows = Windows.from_settings()
    after: Candidate | None = None
    while True:
        query = operation_candidates(_vendor(), windows, after=after)
        page = _candidates(query.sql, query.params)
        for candidate in page:
            claim = claim_operation(candidate.id, owner, windows=windows, engines=engines)
            if claim is not None:
                return claim
        if len(page) < PAGE_SIZE:
            return None
        after = page[-1]


def claim_operation(
    operation_id: int,
    owner: str,
    *,
    windows: Windows | None = None,
    engines: Sequence[str] | None = None,
) -> OperationClaim | None:
    _require_owner(owner)
    windows = windows or Windows.from_settings()
    with transaction.atomic(using=_db()):
        queryset = (
            ApplyOperation.objects.using(_db())
            .annotate(
                claim_clause=RawSQL(operation_clause_case(_vendor(), windows), []),
                db_now=DbNow(),
            )
            .filter(pk=operation_id, claim_clause__isnull=False)
            .select_for_update(skip_locked=True)
        )
        if engines:
            # Only operations of applies whose engine ternadmin drives (a subquery, so the
            # row lock stays on the operation row alone).
            queryset = queryset.filter(
                Exists(
                    Apply.objects.using(_db()).filter(
                        pk=OuterRef("apply_id"), engine__in=list(engines)
                    )
                )
            )
        operation = next(iter(queryset), None)
        if operation is None:
            return None
        return _write_operation_claim(operation, Clause(operation.claim_clause), owner)


def _write_operation_claim(
    operation: ApplyOperation, clause: Clause, owner: str
) -> OperationClaim | None:
    token = new_token()
    sets, params = _claim_sets(owner, token)
    previous = operation.state
    if previous in (ApplyState.PENDING, ApplyState.STOPPED):
        sql = (
            f"UPDATE apply_operations SET state = %s, {sets},"
            f" started_at = COALESCE(started_at, {now_sql(_vendor())})"
            " WHERE id = %s AND state = %s"
        )
        if _execute(sql, [STARTED_STATE.value, *params, operation.pk, previous]) == 0:
            return None
        operation.state = STARTED_STATE.value
        if operation.started_at is None:
            operation.started_at = operation.db_now  # type: ignore[attr-defined]
    else:
        _execute(f"UPDATE apply_operations SET {sets} WHERE id = %s", [*params, operation.pk])
    db_now: datetime = operation.db_now  # type: ignore[attr-defined]
    operation.lease_owner, operation.lease_token = owner, token
    operation.lease_acquired_at = operation.updated_at = db_now
    lease = Lease("apply_operations", operation.pk, token, owner)
    return OperationClaim(operation, clause, previous, lease)
