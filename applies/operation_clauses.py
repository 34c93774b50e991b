"""SchemaBot's operation-level claim clauses as SQL: which ``apply_operations`` rows the copy
claim and the cutover claim take, per SchemaBot line.

Upstream ``FindNextApplyOperation`` and ``FindNextApplyOperationCutover``
(pkg/storage/mysqlstore/apply_operations.go; docs/schemabot.md, "Operation-level claims"). As
``applies.clauses`` for applies: each clause written once, locked on by
``applies.operation_claims`` and shown on an apply's page by the same CASE expression.
"""

from __future__ import annotations

from applies.clauses import (
    Clause,
    apply_clause_case,
    case_sql,
    pending_start_exists,
    rematch_guard,
    request_exists,
    stop_reconciliation_case,
)
from applies.db import quoted
from applies.dbclock import seconds_ago_sql
from applies.lines import Line, current_line
from applies.states import ApplyState
from applies.vocabulary import (
    ControlOperation,
    CutoverPolicy,
    OnFailure,
    OperationKind,
    RequestStatus,
)
from applies.windows import Windows

A = ApplyState
_BARRIER, _PARALLEL = CutoverPolicy.BARRIER.value, CutoverPolicy.PARALLEL.value
_WORK, _FINALIZER = OperationKind.WORK.value, OperationKind.GROUP_FINALIZER.value
# Where a barrier sibling has reached (or passed) the cutover barrier.
_AT_BARRIER = quoted((A.WAITING_FOR_CUTOVER, A.CUTTING_OVER, A.REVERT_WINDOW, A.COMPLETED))


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
            f" AND w.deployment = {o}.deployment AND w.operation_kind = '{_WORK}'"
            f" AND {namespace} = {namespace_sql(vendor, f'{o}.operation_key')}"
            f" AND w.state <> '{A.COMPLETED}')"
        )
        gate = (
            f"(({o}.operation_kind <> '{_FINALIZER}' AND {gate})"
            f" OR ({o}.operation_kind = '{_FINALIZER}' AND NOT {unfinished_work}))"
        )
    if line.pending_stop_gate:
        gate += f" AND NOT {request_exists(f'{o}.apply_id', ControlOperation.STOP)}"
    return gate


def _ordered_cutover_policies(line: Line) -> str:
    """The cutover policies whose rows park at the barrier and cut over by the cutover claim."""
    return f"'{_BARRIER}', '{_PARALLEL}'" if line.parallel_policy else f"'{_BARRIER}'"


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
        policies = _ordered_cutover_policies(line)
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
    policies = _ordered_cutover_policies(line)
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


def sweep_claim_case(
    vendor: str, *, operations: bool, windows: Windows | None = None, line: Line | None = None
) -> str:
    """Which clause takes an apply (over the ``applies`` table) on the claim paths the sweep
    runs, NULL when none does: the apply-level clauses; or, in operation mode, stop
    reconciliation first, then the apply clause of a parent one of whose operation rows an
    operation claim takes (the parent is claimed by id with the apply-level clauses)."""
    windows = windows or Windows.from_settings()
    parent = apply_clause_case(vendor, windows, line)
    if not operations:
        return parent
    stop = stop_reconciliation_case(vendor, windows, line)
    carried = (
        "EXISTS (SELECT 1 FROM apply_operations WHERE apply_operations.apply_id = applies.id"
        f" AND {operation_claim_case(vendor, windows, line)} IS NOT NULL)"
    )
    return f"(CASE WHEN {stop} IS NOT NULL THEN {stop} WHEN {carried} THEN {parent} END)"
