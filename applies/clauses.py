"""SchemaBot's claim clauses as SQL: which rows each claim path takes, per SchemaBot line.

Every clause is written once here and used everywhere: the claim paths lock a row only when
``apply_clause_case`` (or ``operation_clause_case``, ``cutover_clause_case``) names a clause
for it, and ``classify`` evaluates the same expression in bulk to tell the console which clause
would take an apply. Which clauses exist, and their exact gates, depend on the line ternadmin
runs beside (``applies.lines``): upstream ``FindNextApply``/``ClaimApplyByID``
(pkg/storage/mysqlstore/applies.go) and ``FindNextApplyOperation``/
``FindNextApplyOperationCutover`` (apply_operations.go).

The SQL is plain text with ``%s`` placeholders, valid on MySQL/MariaDB and SQLite. Constants
(states from ``applies.states``, windows from settings) are inlined: they are ours, not user
input, and a fixed statement text lets the server reuse its plan. Time is always the
database's (``NOW()``), never the application's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings

from applies import states
from applies.dbclock import seconds_ago_sql
from applies.lines import Line, current_line
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, CutoverPolicy, OnFailure, RequestStatus


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


@dataclass(frozen=True)
class Windows:
    """The three numbers SchemaBot hard-codes, as ternadmin's settings (upstream 1 minute,
    ``maxRecoveryAttempts`` 10, ``retryableRecoveryFreshnessDays`` 1)."""

    stale_after: int
    retry_budget: int
    retry_freshness: int

    @classmethod
    def from_settings(cls) -> Windows:
        return cls(
            stale_after=settings.TERNADMIN_STALE_AFTER_SECONDS,
            retry_budget=settings.TERNADMIN_RETRY_BUDGET,
            retry_freshness=settings.TERNADMIN_RETRY_FRESHNESS_SECONDS,
        )


def quoted(values: Iterable[str]) -> str:
    """A SQL list of our own state strings (never user input: checked against the registry)."""
    values = list(values)
    for value in values:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"not a state-like constant: {value!r}")
    return ", ".join(f"'{value}'" for value in values)


TERMINAL_SQL = quoted(states.TERMINAL_APPLY_STATES)
A = ApplyState
_PENDING = RequestStatus.PENDING.value
_BARRIER, _PARALLEL = CutoverPolicy.BARRIER.value, CutoverPolicy.PARALLEL.value
# Where a barrier sibling has reached (or passed) the cutover barrier.
_AT_BARRIER = quoted((A.WAITING_FOR_CUTOVER, A.CUTTING_OVER, A.REVERT_WINDOW, A.COMPLETED))


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


def defer_cutover_sql(vendor: str, options: str) -> str:
    """``options.defer_cutover`` is exactly JSON ``true`` (not a string, not null); false, not
    NULL, when the key is absent, so that ``NOT`` of it holds."""
    if vendor == "sqlite":
        return f"COALESCE(json_type({options}, '$.defer_cutover') = 'true', 0)"
    path = f"JSON_EXTRACT({options}, '$.defer_cutover')"
    return f"COALESCE(JSON_TYPE({path}) = 'BOOLEAN' AND JSON_UNQUOTE({path}) = 'true', 0)"


def namespace_sql(vendor: str, key: str) -> str:
    """The namespace part of an ``operation_key`` (before the first ``/``)."""
    if vendor == "sqlite":
        slash = f"instr({key}, '/')"
        return f"(CASE WHEN {slash} = 0 THEN {key} ELSE substr({key}, 1, {slash} - 1) END)"
    return f"SUBSTRING_INDEX({key}, '/', 1)"


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


# --- operation-level -------------------------------------------------------------------------


def _failed_sibling_exempt(o: str, line: Line) -> str:
    """An earlier sibling that failed stops blocking under on_failure continue, and (#581)
    under pause once a release request latched the rollout open (pending or completed)."""
    exempt = f"{o}.on_failure = '{OnFailure.CONTINUE}'"
    if line.released_pause:
        release = (
            "EXISTS (SELECT 1 FROM apply_control_requests release_req"
            f" WHERE release_req.apply_id = {o}.apply_id"
            f" AND release_req.operation = '{ControlOperation.RELEASE}'"
            f" AND release_req.status IN ('{RequestStatus.PENDING}', '{RequestStatus.COMPLETED}'))"
        )
        exempt = f"({exempt} OR ({o}.on_failure = '{OnFailure.PAUSE}' AND {release}))"
    return f"NOT (s.state = '{A.FAILED}' AND {exempt})"


def _earlier(o: str) -> str:
    return (
        f"s.apply_id = {o}.apply_id AND (s.created_at < {o}.created_at"
        f" OR (s.created_at = {o}.created_at AND s.id < {o}.id))"
    )


def _copy_gate(o: str, line: Line) -> str:
    """An earlier sibling blocks a pending row until it has gone far enough under the row's
    own cutover policy: barrier, until the sibling reaches the cutover barrier; parallel
    (#540), never; rolling and anything else, until it completes."""
    serial = f"{o}.cutover_policy <> '{_BARRIER}'"
    if line.parallel_policy:
        serial = f"{o}.cutover_policy NOT IN ('{_BARRIER}', '{_PARALLEL}')"
    other_deployment = f" AND s.deployment <> {o}.deployment" if line.shard_siblings else ""
    blocking = (
        f"EXISTS (SELECT 1 FROM apply_operations s WHERE {_earlier(o)}{other_deployment}"
        f" AND (({o}.cutover_policy = '{_BARRIER}' AND s.state NOT IN ({_AT_BARRIER}))"
        f" OR ({serial} AND s.state <> '{A.COMPLETED}'))"
        f" AND {_failed_sibling_exempt(o, line)})"
    )
    return f"NOT {blocking}"


def _pending_gate(vendor: str, o: str, line: Line) -> str:
    gate = _copy_gate(o, line)
    if line.shard_siblings:
        # A group finalizer waits for its namespace's work rows of the same deployment (#497);
        # shard work of one deployment is never ordered against itself (#491).
        namespace = namespace_sql(vendor, "w.operation_key")
        unfinished_work = (
            f"EXISTS (SELECT 1 FROM apply_operations w WHERE w.apply_id = {o}.apply_id"
            f" AND w.deployment = {o}.deployment AND w.operation_kind = 'work'"
            f" AND {namespace} = {namespace_sql(vendor, f'{o}.operation_key')}"
            f" AND w.state <> '{A.COMPLETED}')"
        )
        gate = (
            f"(({o}.operation_kind <> 'group_finalizer' AND {gate})"
            f" OR ({o}.operation_kind = 'group_finalizer' AND NOT {unfinished_work}))"
        )
    if line.pending_stop_gate:
        gate += f" AND NOT {request_exists(f'{o}.apply_id', ControlOperation.STOP)}"
    return gate


def several_operations_sql(apply_id_column: str) -> str:
    """The apply has more than one operation row (two probes of ``idx_apply_operation``)."""
    return (
        "EXISTS (SELECT 1 FROM apply_operations op1 JOIN apply_operations op2"
        " ON op2.apply_id = op1.apply_id AND op2.id > op1.id"
        f" WHERE op1.apply_id = {apply_id_column})"
    )


def multi_operation_sql(o: str) -> str:
    """The row has a sibling: its apply has more than one operation."""
    return (
        "EXISTS (SELECT 1 FROM apply_operations sib"
        f" WHERE sib.apply_id = {o}.apply_id AND sib.id <> {o}.id)"
    )


def operation_clause_sql(
    vendor: str, windows: Windows, line: Line | None = None
) -> dict[Clause, str]:
    """The operation clauses over the ``apply_operations`` table (unaliased), in CASE order."""
    line = line or current_line()
    o = "apply_operations"
    stale = f"{o}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    parent_stale = f"p.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    claimable = quoted(line.claimable_states)
    stale_active = f"{o}.state IN ({claimable}) AND {stale}"
    if line.barrier_park_exemption:
        # #417: a multi-operation row parked at the barrier belongs to the cutover claim.
        policies = f"'{_BARRIER}', '{_PARALLEL}'" if line.parallel_policy else f"'{_BARRIER}'"
        stale_active += (
            f" AND NOT ({o}.state = '{A.WAITING_FOR_CUTOVER}' AND {o}.cutover_policy IN"
            f" ({policies}) AND {multi_operation_sql(o)})"
        )
    clauses = {
        Clause.DEPLOYMENT_ORDER: f"{o}.state = '{A.PENDING}' AND {_pending_gate(vendor, o, line)}",
        Clause.STALE_ACTIVE: stale_active,
        Clause.STOPPED_START: (
            f"{o}.state = '{A.STOPPED}' AND {pending_start_exists(f'{o}.apply_id')}"
        ),
    }
    if line.stopped_cancel:
        clauses[Clause.STOPPED_CANCEL] = f"{o}.state = '{A.STOPPED}' AND " + request_exists(
            f"{o}.apply_id", ControlOperation.CANCEL, rematch_guard(o, stale, equal_admits=True)
        )
    start_newer = pending_start_exists(f"{o}.apply_id", rematch_guard(o, stale, equal_admits=False))
    if line.deferred_deploy_on_parent:
        # #436: the operation row stays active while its parent waits for the deploy.
        clauses[Clause.DEFERRED_DEPLOY_START] = (
            f"{o}.state IN ({claimable}) AND EXISTS (SELECT 1 FROM applies p"
            f" WHERE p.id = {o}.apply_id AND p.state = '{A.WAITING_FOR_DEPLOY}') AND {start_newer}"
        )
    else:
        clauses[Clause.DEFERRED_DEPLOY_START] = (
            f"{o}.state = '{A.WAITING_FOR_DEPLOY}' AND {start_newer}"
        )
    clauses[Clause.RETRY] = (
        f"{o}.state = '{A.FAILED_RETRYABLE}' AND EXISTS (SELECT 1 FROM applies p"
        f" WHERE p.id = {o}.apply_id AND ((p.state = '{A.FAILED_RETRYABLE}'"
        f" AND p.attempt < {int(windows.retry_budget)}"
        f" AND p.updated_at >= {seconds_ago_sql(vendor, windows.retry_freshness)})"
        f" OR (p.state IN ({claimable}) AND {parent_stale})))"
    )
    return clauses


def cutover_clause_sql(
    vendor: str, windows: Windows, line: Line | None = None
) -> dict[Clause, str]:
    """Upstream ``FindNextApplyOperationCutover`` (#398/#430): only rows of a multi-operation
    apply under an ordered cutover policy, not started with manual defer_cutover. A parked row
    cuts over once every earlier sibling completed (no stop pending); a stale cutover is
    re-leased without an ordering gate. Empty on a line without the path."""
    line = line or current_line()
    if not line.cutover_claim:
        return {}
    o = "apply_operations"
    stale = f"{o}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    policies = f"'{_BARRIER}', '{_PARALLEL}'" if line.parallel_policy else f"'{_BARRIER}'"
    eligible = (
        f"{o}.cutover_policy IN ({policies}) AND {multi_operation_sql(o)}"
        f" AND EXISTS (SELECT 1 FROM applies p WHERE p.id = {o}.apply_id"
        f" AND NOT {defer_cutover_sql(vendor, 'p.options')})"
    )
    earlier_unfinished = (
        f"EXISTS (SELECT 1 FROM apply_operations s WHERE {_earlier(o)}"
        f" AND s.state <> '{A.COMPLETED}' AND {_failed_sibling_exempt(o, line)})"
    )
    return {
        Clause.CUTOVER_START: (
            f"{eligible} AND {o}.state = '{A.WAITING_FOR_CUTOVER}' AND NOT {earlier_unfinished}"
            f" AND NOT {request_exists(f'{o}.apply_id', ControlOperation.STOP)}"
        ),
        Clause.CUTOVER_RECOVERY: (
            f"{eligible} AND {o}.state IN ('{A.CUTTING_OVER}', '{A.REVERT_WINDOW}') AND {stale}"
        ),
    }


def case_sql(clauses: dict[Clause, str]) -> str:
    """``CASE WHEN <clause> THEN '<name>' … END``: NULL when no claim path matches the row."""
    if not clauses:
        return "(NULL)"
    arms = " ".join(f"WHEN {sql} THEN '{clause.value}'" for clause, sql in clauses.items())
    return f"(CASE {arms} END)"


def apply_clause_case(vendor: str, windows: Windows | None = None, line: Line | None = None) -> str:
    return case_sql(apply_clause_sql(vendor, windows or Windows.from_settings(), line))


def operation_clause_case(
    vendor: str, windows: Windows | None = None, line: Line | None = None
) -> str:
    return case_sql(operation_clause_sql(vendor, windows or Windows.from_settings(), line))


def cutover_clause_case(
    vendor: str, windows: Windows | None = None, line: Line | None = None
) -> str:
    return case_sql(cutover_clause_sql(vendor, windows or Windows.from_settings(), line))


def operation_claim_case(
    vendor: str, windows: Windows | None = None, line: Line | None = None
) -> str:
    """Which operation claim takes a row, in the order the operator tries them: the cutover
    claim first, then the copy claim (pkg/api/operator.go)."""
    windows = windows or Windows.from_settings()
    clauses = {
        **cutover_clause_sql(vendor, windows, line),
        **operation_clause_sql(vendor, windows, line),
    }
    return case_sql(clauses)


def stop_reconciliation_case(
    vendor: str, windows: Windows | None = None, line: Line | None = None
) -> str:
    windows = windows or Windows.from_settings()
    line = line or current_line()
    if not line.stop_reconciliation:
        return "(NULL)"
    return case_sql({Clause.STOP_RECONCILIATION: stop_reconciliation_sql(vendor, windows, line)})
