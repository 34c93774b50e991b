"""Operation-level claims: lease one ``apply_operations`` row as SchemaBot's operator does.

``find_next_operation_claim`` is upstream ``FindNextApplyOperation``, ``find_next_cutover_claim``
is ``FindNextApplyOperationCutover`` (pkg/storage/mysqlstore/apply_operations.go), for the
configured line (``applies.lines``); ``claim_through_operation`` is the operation loop of
pkg/api/operator.go: lease the operation, then its parent apply by id, and when the parent
cannot be claimed, either take the parent's terminal state onto the operation or (current
line) undo the operation's claim so it is retried on the next pass.

Claim writes, as upstream: a pending row starts (running, ``started_at``), refused by a stop
request committed since the row was read (current); a stopped row moves to the line's
stopped-claim state (current: resuming; b2349ea: it keeps ``stopped``); a parked row whose
cutover turn has come moves to cutting_over; everything else only changes hands. Re-claiming a
``failed_retryable`` row is a redispatch on the current line: it counts an attempt on the row
(#513) and, for a multi-operation apply, on the parent's retry budget (#485).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import BooleanField, Exists, OuterRef, QuerySet
from django.db.models.expressions import RawSQL

from applies import db, states
from applies.candidates import Candidate, CandidateQuery, cutover_candidates, operation_candidates
from applies.claims import (
    ApplyClaim,
    claim_apply,
    claim_sets,
    first_claim,
    require_owner,
    single_operation_sql,
)
from applies.clauses import Clause, request_exists
from applies.dbclock import DbNow, now_sql, seconds_ago_sql
from applies.leases import Lease, new_token
from applies.lines import Line, current_line
from applies.models import Apply, ApplyOperation
from applies.operation_clauses import cutover_clause_case, operation_clause_case
from applies.states import ApplyState
from applies.vocabulary import ControlOperation
from applies.windows import Windows

A = ApplyState


@dataclass(frozen=True)
class OperationClaim:
    operation: ApplyOperation
    clause: Clause
    previous_state: str
    lease: Lease


def find_next_apply_operation(
    owner: str, *, engines: Sequence[str] | None = None
) -> ApplyOperation | None:
    """Claim the oldest operation row any operation clause takes, or ``None``."""
    claim = find_next_operation_claim(owner, engines=engines)
    return claim.operation if claim else None


def find_next_operation_claim(
    owner: str, *, engines: Sequence[str] | None = None, skip: Collection[int] = ()
) -> OperationClaim | None:
    require_owner(owner)
    windows, line = Windows.from_settings(), current_line()

    def page(after: Candidate | None) -> CandidateQuery:
        return operation_candidates(db.vendor(), windows, line=line, after=after)

    def claim(operation_id: int) -> OperationClaim | None:
        return claim_operation(operation_id, owner, windows=windows, engines=engines)

    found: OperationClaim | None = first_claim(page, claim, skip)
    return found


def find_next_cutover_claim(
    owner: str, *, engines: Sequence[str] | None = None
) -> OperationClaim | None:
    """The next parked operation whose cutover turn has come, or a stale cutover (current)."""
    require_owner(owner)
    windows, line = Windows.from_settings(), current_line()
    if not line.cutover_claim:
        return None

    def page(after: Candidate | None) -> CandidateQuery:
        return cutover_candidates(db.vendor(), windows, after=after)

    def claim(operation_id: int) -> OperationClaim | None:
        return claim_operation(operation_id, owner, windows=windows, engines=engines, cutover=True)

    found: OperationClaim | None = first_claim(page, claim)
    return found


def claim_operation(
    operation_id: int,
    owner: str,
    *,
    windows: Windows | None = None,
    engines: Sequence[str] | None = None,
    cutover: bool = False,
) -> OperationClaim | None:
    """Lock the row if its clause matches now, then write the claim (one transaction)."""
    require_owner(owner)
    windows, line = windows or Windows.from_settings(), current_line()
    case = cutover_clause_case if cutover else operation_clause_case
    with db.atomic():
        queryset = (
            ApplyOperation.objects.annotate(
                claim_clause=RawSQL(case(db.vendor(), windows, line), []),
                db_now=DbNow(),
            )
            .filter(pk=operation_id, claim_clause__isnull=False)
            .select_for_update(skip_locked=True)
        )
        if engines:
            queryset = _only_driven(queryset, engines)
        operation = next(iter(queryset), None)
        if operation is None:
            return None
        return _write_operation_claim(operation, Clause(operation.claim_clause), owner, line)


def _only_driven(
    queryset: QuerySet[ApplyOperation], engines: Sequence[str]
) -> QuerySet[ApplyOperation]:
    """Rows of applies ternadmin can drive: these engines, one operation (a subquery, so the
    row lock stays on the operation row alone)."""
    parent = Apply.objects.filter(pk=OuterRef("apply_id"), engine__in=list(engines))
    one = RawSQL(single_operation_sql("apply_operations.apply_id"), [], BooleanField())
    return queryset.filter(Exists(parent)).filter(one)


def _write_operation_claim(
    operation: ApplyOperation, clause: Clause, owner: str, line: Line
) -> OperationClaim | None:
    token = new_token()
    sets, params = claim_sets(owner, token)
    previous = operation.state
    now = now_sql(db.vendor())
    no_stop = f" AND NOT {request_exists('%s', ControlOperation.STOP)}"
    if previous == A.PENDING:
        stop_gate = no_stop if line.pending_stop_gate else ""
        started = _transition(
            operation,
            A.RUNNING,
            f"{sets}, started_at = COALESCE(started_at, {now})",
            params,
            stop_gate,
            line,
        )
        if not started:
            return None  # another writer moved the row, or a stop request landed meanwhile
        if operation.started_at is None:
            operation.started_at = operation.db_now  # type: ignore[attr-defined]
    elif previous == A.STOPPED and line.stopped_operation_claim_state:
        if not _transition(operation, line.stopped_operation_claim_state, sets, params, "", line):
            return None
    elif previous == A.WAITING_FOR_CUTOVER and clause is Clause.CUTOVER_START:
        if not _transition(operation, A.CUTTING_OVER, sets, params, no_stop, line):
            return None
    else:
        db.execute(f"UPDATE apply_operations SET {sets} WHERE id = %s", [*params, operation.pk])
        if previous == A.FAILED_RETRYABLE and line.operation_attempts:
            _count_redispatch(operation)
    db_now: datetime = operation.db_now  # type: ignore[attr-defined]
    operation.lease_owner, operation.lease_token = owner, token
    operation.lease_acquired_at = operation.updated_at = db_now
    lease = Lease("apply_operations", operation.pk, token, owner)
    return OperationClaim(operation, clause, previous, lease)


def _transition(
    operation: ApplyOperation,
    target: str,
    sets: str,
    params: list[object],
    guard: str,
    line: Line,
) -> bool:
    """``UPDATE … SET state = <target>, <sets> WHERE id AND state = <read> <guard>``."""
    state = line.spelling(target)
    sql = f"UPDATE apply_operations SET state = %s, {sets} WHERE id = %s AND state = %s{guard}"
    extra = [operation.apply_id] if guard else []
    if db.execute(sql, [state, *params, operation.pk, operation.state, *extra]) == 0:
        return False
    operation.state = state
    return True


def _count_redispatch(operation: ApplyOperation) -> None:
    """A deliberate retry (the parent is still failed_retryable) advances the row's own attempt
    (#513) and, for a multi-operation apply, the parent's budget (#485; a single-operation
    parent counts it when its own claim follows). A crash re-lease under an active parent
    changes neither."""
    retryable = A.FAILED_RETRYABLE.value
    now = now_sql(db.vendor())
    bumped = db.execute(
        "UPDATE apply_operations SET attempt = attempt + 1 WHERE id = %s AND EXISTS"
        " (SELECT 1 FROM applies a WHERE a.id = apply_operations.apply_id AND a.state = %s)",
        [operation.pk, retryable],
    )
    if not bumped:
        return
    budget = Windows.from_settings().retry_budget
    db.execute(
        f"UPDATE applies SET attempt = attempt + 1, updated_at = {now}"
        " WHERE id = %s AND state = %s AND attempt < %s AND EXISTS"
        " (SELECT 1 FROM apply_operations o WHERE o.apply_id = applies.id AND o.id <> %s)",
        [operation.apply_id, retryable, budget, operation.pk],
    )


# --- the operation loop: the row, then its parent --------------------------------------------


def claim_through_operation(
    owner: str, *, engines: Sequence[str] | None = None
) -> ApplyClaim | None:
    """Lease an operation row, then its parent apply; the parent's claim, carrying the
    operation's lease. An operation whose parent cannot be claimed is settled (below) and the
    next one is tried (each row once: a released row is claimable again at once)."""
    line = current_line()
    tried: set[int] = set()
    while (op_claim := find_next_operation_claim(owner, engines=engines, skip=tried)) is not None:
        tried.add(op_claim.operation.pk)
        apply_id = op_claim.operation.apply_id
        parent = claim_apply(apply_id, owner, engines=engines)
        if parent is not None:
            return replace(parent, operation_lease=op_claim.lease)
        settle_unclaimable_parent(op_claim, line)
    return None


def settle_unclaimable_parent(claim: OperationClaim, line: Line) -> None:
    """The parent refused the claim. A terminal parent's state is taken onto the operation, so
    it stops being claimed on every pass; otherwise (a live driver holds the parent) the
    current line releases the operation's lease at once, b2349ea leaves it until it is stale
    (upstream operator.go ``reconcileUnclaimableParent``)."""
    parent = (
        Apply.objects.filter(pk=claim.operation.apply_id).values("state", "error_message").first()
    )
    if parent is None:
        return  # an orphan row: left for its lease to go stale, as upstream
    if states.apply_state(parent["state"]).terminal:
        take_terminal_state(claim.lease, parent["state"], parent["error_message"] or None)
    elif line.release_unclaimable_operation:
        release_operation_claim(claim.lease)


def take_terminal_state(lease: Lease, state: str, error: str | None) -> int:
    """Mirror a terminal parent onto its operation under the operation's lease
    (``markOperationFromApplyState``): stopped keeps completed_at NULL; failed takes the
    parent's error, NULL when it has none (``MarkFailed`` writes ``nullString(errMsg)``)."""
    now = now_sql(db.vendor())
    sets = "state = %s"
    params: list[object] = [state]
    if state != A.STOPPED:
        sets += f", completed_at = COALESCE(completed_at, {now})"
    if state == A.FAILED:
        sets += ", error_message = %s"
        params.append(error)
    sql = f"UPDATE apply_operations SET {sets}, updated_at = {now} WHERE id = %s"
    return db.execute(f"{sql} AND lease_token = %s", [*params, lease.row_id, lease.token])


def release_operation_claim(lease: Lease) -> bool:
    """Undo a claim: clear the lease and date the heartbeat one second past the staleness
    window, so the stale-active clause takes the row on the next pass (upstream
    ``ReleaseClaim``). False when the lease had already moved on."""
    stale = seconds_ago_sql(db.vendor(), Windows.from_settings().stale_after + 1)
    released = db.execute(
        "UPDATE apply_operations SET lease_owner = '', lease_token = '', lease_acquired_at = NULL,"
        f" updated_at = {stale} WHERE id = %s AND lease_token = %s",
        [lease.row_id, lease.token],
    )
    return released > 0
