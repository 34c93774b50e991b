"""SchemaBot's claim clauses as SQL: which applies each claim path takes, per SchemaBot line.

Every clause is written once and used everywhere: the claim paths lock a row only when
``apply_clause_case`` (or ``applies.operation_clauses``' cases, for operation rows) names a
clause for it, and ``classify`` evaluates the same expression in bulk to tell the console which
clause would take an apply. Which clauses exist, and their exact gates, depend on the line
ternadmin runs beside (``applies.lines``): upstream ``FindNextApply``/``ClaimApplyByID`` and
``FindNextApplyForStopReconciliation`` (pkg/storage/mysqlstore/applies.go; docs/schemabot.md,
"Claims").

The SQL is plain text with ``%s`` placeholders, valid on MySQL/MariaDB and SQLite. Constants
(states from ``applies.states``, windows from settings) are inlined by ``db.quoted``: they are
ours, not user input, and a fixed statement text lets the server reuse its plan. Time is always
the database's (``NOW()``), never the application's.
"""

from __future__ import annotations

from enum import StrEnum

from applies.db import quoted
from applies.dbclock import seconds_ago_sql
from applies.lines import Line, current_line
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, RequestStatus
from applies.windows import Windows


class Clause(StrEnum):
    """The claim paths, named as the console and the sweep report them."""

    QUEUED = "queued"  # C1: pending with tasks (or, #635, an operation row)
    PENDING_START = "pending_start"  # C4: pending with a pending start request
    STALE_ACTIVE = "stale_active"  # C2 / O2: claimable state, heartbeat stale
    RETRY = "retry"  # C3 / O5: failed_retryable under budget and fresh
    STOPPED_CANCEL = "stopped_cancel"  # stopped with a pending cancel request (current)
    STOPPED_START = "stopped_start"  # C5 / O3: stopped with a pending start request
    DEFERRED_DEPLOY_START = "deferred_deploy_start"  # C6 / O4
    DEPLOYMENT_ORDER = "deployment_order"  # O1: pending operation whose turn has come
    CUTOVER_START = "cutover_start"  # a parked operation whose cutover turn has come (current)
    CUTOVER_RECOVERY = "cutover_recovery"  # a stale cutting_over/revert_window operation
    STOP_RECONCILIATION = "stop_reconciliation"  # a stop that no operation claim carries


CLAUSE_DESCRIPTIONS: dict[Clause, str] = {
    Clause.QUEUED: "the queued clause (pending with tasks or an operation)",
    Clause.PENDING_START: "the start-request clause (pending with a pending start request)",
    Clause.STALE_ACTIVE: "the stale-active clause",
    Clause.RETRY: "the retry clause (failed_retryable under budget and fresh)",
    Clause.STOPPED_CANCEL: "the stopped-cancel clause (delivers a pending cancel)",
    Clause.STOPPED_START: "the stopped-start clause (under the target lock)",
    Clause.DEFERRED_DEPLOY_START: "the deferred-deploy start clause",
    Clause.DEPLOYMENT_ORDER: "the pending-operation clause (its deployment's turn)",
    Clause.CUTOVER_START: "the operation cutover clause (its cutover turn)",
    Clause.CUTOVER_RECOVERY: "the operation cutover clause (a stale cutover)",
    Clause.STOP_RECONCILIATION: "the stop-reconciliation clause",
}

A = ApplyState
_PENDING = RequestStatus.PENDING.value


# --- fragments both levels share -------------------------------------------------------------


def request_exists(
    apply_column: str, operation: ControlOperation, extra: str = "", alias: str = "cr"
) -> str:
    """``EXISTS`` a pending control request of ``operation`` for the apply in ``apply_column``."""
    return (
        f"EXISTS (SELECT 1 FROM apply_control_requests {alias}"
        f" WHERE {alias}.apply_id = {apply_column} AND {alias}.operation = '{operation.value}'"
        f" AND {alias}.status = '{_PENDING}'{extra})"
    )


def pending_start_exists(apply_column: str, extra: str = "") -> str:
    return request_exists(apply_column, ControlOperation.START, extra)


def rematch_guard(row: str, stale: str, *, equal_admits: bool) -> str:
    """A request claims the row again only when it is newer than the row's lease, or the lease
    went stale (upstream ``requestRematchGuardSQL``). ``equal_admits`` for a claim that moves
    the row out of the state it matched on, so no peer can match it in the same second."""
    compare = "<=" if equal_admits else "<"
    return (
        f" AND ({row}.lease_acquired_at IS NULL OR {row}.lease_acquired_at {compare} cr.updated_at"
        f" OR {stale})"
    )


def several_operations_sql(apply_id_column: str) -> str:
    """The apply has more than one operation row (two probes of ``idx_apply_operation``)."""
    return (
        "EXISTS (SELECT 1 FROM apply_operations op1 JOIN apply_operations op2"
        " ON op2.apply_id = op1.apply_id AND op2.id > op1.id"
        f" WHERE op1.apply_id = {apply_id_column})"
    )


def case_sql(clauses: dict[Clause, str]) -> str:
    """``CASE WHEN <clause> THEN '<name>' … END``: NULL when no claim path matches the row."""
    if not clauses:
        return "(NULL)"
    arms = " ".join(f"WHEN {sql} THEN '{clause.value}'" for clause, sql in clauses.items())
    return f"(CASE {arms} END)"


# --- apply-level -----------------------------------------------------------------------------


def apply_clause_sql(vendor: str, windows: Windows, line: Line | None = None) -> dict[Clause, str]:
    """The apply clauses over the ``applies`` table (unaliased, so ORM queries can embed it),
    in CASE order: a stopped apply with both a cancel and a start pending is claimed to deliver
    the cancel (upstream ``persistApplyClaim``: cancel wins)."""
    line = line or current_line()
    a = "applies"
    stale = f"{a}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    children = f"EXISTS (SELECT 1 FROM tasks t WHERE t.apply_id = {a}.id)"
    if line.queued_by_operation_row:
        children = (
            f"({children} OR EXISTS (SELECT 1 FROM apply_operations o WHERE o.apply_id = {a}.id))"
        )
    clauses = {
        Clause.QUEUED: f"{a}.state = '{A.PENDING}' AND {children}",
        Clause.PENDING_START: f"{a}.state = '{A.PENDING}' AND {pending_start_exists(f'{a}.id')}",
        Clause.STALE_ACTIVE: f"{a}.state IN ({quoted(line.claimable_states)}) AND {stale}",
        Clause.RETRY: (
            f"{a}.state = '{A.FAILED_RETRYABLE}' AND {a}.attempt < {int(windows.retry_budget)}"
            f" AND {a}.updated_at >= {seconds_ago_sql(vendor, windows.retry_freshness)}"
        ),
    }
    if line.stopped_cancel:
        guard = rematch_guard(a, stale, equal_admits=True)
        clauses[Clause.STOPPED_CANCEL] = f"{a}.state = '{A.STOPPED}' AND " + request_exists(
            f"{a}.id", ControlOperation.CANCEL, guard
        )
    clauses[Clause.STOPPED_START] = (
        f"{a}.state = '{A.STOPPED}' AND {pending_start_exists(f'{a}.id')}"
    )
    clauses[Clause.DEFERRED_DEPLOY_START] = (
        f"{a}.state = '{A.WAITING_FOR_DEPLOY}' AND "
        + pending_start_exists(f"{a}.id", rematch_guard(a, stale, equal_admits=False))
    )
    return clauses


def stop_reconciliation_sql(vendor: str, windows: Windows, line: Line | None = None) -> str:
    """Upstream ``FindNextApplyForStopReconciliation`` (#581): a pending, paused or claimable
    apply with a pending stop newer than its lease (or a stale lease), at least one pending
    operation and no operation in an active state: no operation claim will carry its stop."""
    line = line or current_line()
    a = "applies"
    stale = f"{a}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    parents = quoted((A.PENDING, A.PAUSED, *line.claimable_states))
    newer_than_lease = rematch_guard(a, stale, equal_admits=False)
    return (
        f"{a}.state IN ({parents})"
        f" AND {request_exists(f'{a}.id', ControlOperation.STOP, newer_than_lease)}"
        f" AND EXISTS (SELECT 1 FROM apply_operations pending WHERE pending.apply_id = {a}.id"
        f" AND pending.state = '{A.PENDING}')"
        f" AND NOT EXISTS (SELECT 1 FROM apply_operations active WHERE active.apply_id = {a}.id"
        f" AND active.state IN ({quoted(line.claimable_states)}))"
    )


def apply_clause_case(vendor: str, windows: Windows | None = None, line: Line | None = None) -> str:
    return case_sql(apply_clause_sql(vendor, windows or Windows.from_settings(), line))


def stop_reconciliation_case(
    vendor: str, windows: Windows | None = None, line: Line | None = None
) -> str:
    windows = windows or Windows.from_settings()
    line = line or current_line()
    if not line.stop_reconciliation:
        return "(NULL)"
    return case_sql({Clause.STOP_RECONCILIATION: stop_reconciliation_sql(vendor, windows, line)})
