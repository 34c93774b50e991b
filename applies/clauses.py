"""SchemaBot's claim clauses as SQL: which rows each claim path takes (domain.md §3.2, §3.7).

Every clause is written once here and used everywhere: the claim paths lock a row only when
``apply_clause_case`` (or ``operation_clause_case``) names a clause for it, and ``classify``
evaluates the same expression in bulk to tell the console which clause would take an apply.

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
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, RequestStatus


class Clause(StrEnum):
    """The claim paths, named as the console and the sweep report them."""

    QUEUED = "queued"  # C1: pending with tasks or an operation row
    PENDING_START = "pending_start"  # C4: pending with a pending start request
    STALE_ACTIVE = "stale_active"  # C2 / O2: claimable state, heartbeat stale
    RETRY = "retry"  # C3 / O5: failed_retryable under budget and fresh
    STOPPED_START = "stopped_start"  # C5 / O3: stopped with a pending start request
    DEFERRED_DEPLOY_START = "deferred_deploy_start"  # C6 / O4
    DEPLOYMENT_ORDER = "deployment_order"  # O1: pending operation whose turn has come


CLAUSE_DESCRIPTIONS: dict[Clause, str] = {
    Clause.QUEUED: "the queued clause (pending with tasks or an operation)",
    Clause.PENDING_START: "the start-request clause (pending with a pending start request)",
    Clause.STALE_ACTIVE: "the stale-active clause",
    Clause.RETRY: "the retry clause (failed_retryable under budget and fresh)",
    Clause.STOPPED_START: "the stopped-start clause (under the target lock)",
    Clause.DEFERRED_DEPLOY_START: "the deferred-deploy start clause",
    Clause.DEPLOYMENT_ORDER: "the pending-operation clause (its deployment's turn)",
}


@dataclass(frozen=True)
class Windows:
    """The three numbers SchemaBot hard-codes, as ternadmin's settings (domain.md §3.1)."""

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


CLAIMABLE_SQL = quoted(states.CLAIMABLE_APPLY_STATES)
TERMINAL_SQL = quoted(states.TERMINAL_APPLY_STATES)
_START = ControlOperation.START.value
_PENDING = RequestStatus.PENDING.value


def pending_start_exists(apply_column: str, extra: str = "") -> str:
    """``EXISTS`` a pending ``start`` control request for the apply in ``apply_column``."""
    return (
        "EXISTS (SELECT 1 FROM apply_control_requests cr"
        f" WHERE cr.apply_id = {apply_column} AND cr.operation = '{_START}'"
        f" AND cr.status = '{_PENDING}'{extra})"
    )


def apply_clause_sql(vendor: str, windows: Windows) -> dict[Clause, str]:
    """C1–C6 over the ``applies`` table (unaliased, so ORM queries can embed it), in CASE order."""
    a = "applies"
    stale = f"{a}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    A = ApplyState
    start = pending_start_exists(f"{a}.id")
    start_newer_than_lease = pending_start_exists(
        f"{a}.id",
        f" AND ({a}.lease_acquired_at IS NULL OR {a}.lease_acquired_at < cr.updated_at OR {stale})",
    )
    return {
        Clause.QUEUED: (
            f"{a}.state = '{A.PENDING}'"
            f" AND (EXISTS (SELECT 1 FROM tasks t WHERE t.apply_id = {a}.id)"
            f" OR EXISTS (SELECT 1 FROM apply_operations o WHERE o.apply_id = {a}.id))"
        ),
        Clause.PENDING_START: f"{a}.state = '{A.PENDING}' AND {start}",
        Clause.STALE_ACTIVE: f"{a}.state IN ({CLAIMABLE_SQL}) AND {stale}",
        Clause.RETRY: (
            f"{a}.state = '{A.FAILED_RETRYABLE}' AND {a}.attempt < {int(windows.retry_budget)}"
            f" AND {a}.updated_at >= {seconds_ago_sql(vendor, windows.retry_freshness)}"
        ),
        Clause.STOPPED_START: f"{a}.state = '{A.STOPPED}' AND {start}",
        Clause.DEFERRED_DEPLOY_START: (
            f"{a}.state = '{A.WAITING_FOR_DEPLOY}' AND {start_newer_than_lease}"
        ),
    }


def operation_clause_sql(vendor: str, windows: Windows) -> dict[Clause, str]:
    """O1–O5 over the ``apply_operations`` table (unaliased), in CASE order."""
    o = "apply_operations"
    stale = f"{o}.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    parent_stale = f"p.updated_at < {seconds_ago_sql(vendor, windows.stale_after)}"
    A = ApplyState
    # An earlier sibling blocks a pending operation until it has progressed far enough: a
    # barrier sibling until it reaches cutover, any other until it completes; a failed sibling
    # does not block a row whose on_failure is "continue".
    blocking_sibling = (
        f"EXISTS (SELECT 1 FROM {o} s WHERE s.apply_id = {o}.apply_id"
        f" AND (s.created_at < {o}.created_at OR (s.created_at = {o}.created_at AND s.id < {o}.id))"
        " AND ((s.cutover_policy = 'barrier' AND s.state NOT IN"
        f" ('{A.WAITING_FOR_CUTOVER}', '{A.CUTTING_OVER}', '{A.REVERT_WINDOW}', '{A.COMPLETED}'))"
        f" OR (s.cutover_policy <> 'barrier' AND s.state <> '{A.COMPLETED}'))"
        f" AND NOT ({o}.on_failure = 'continue' AND s.state = '{A.FAILED}'))"
    )
    start = pending_start_exists(f"{o}.apply_id")
    start_newer_than_lease = pending_start_exists(
        f"{o}.apply_id",
        f" AND ({o}.lease_acquired_at IS NULL OR {o}.lease_acquired_at < cr.updated_at OR {stale})",
    )
    parent_waiting = (
        f"EXISTS (SELECT 1 FROM applies p WHERE p.id = {o}.apply_id"
        f" AND p.state = '{A.WAITING_FOR_DEPLOY}')"
    )
    return {
        Clause.DEPLOYMENT_ORDER: f"{o}.state = '{A.PENDING}' AND NOT {blocking_sibling}",
        Clause.STALE_ACTIVE: f"{o}.state IN ({CLAIMABLE_SQL}) AND {stale}",
        Clause.STOPPED_START: f"{o}.state = '{A.STOPPED}' AND {start}",
        # b2349ea keys this on the operation row; HEAD #436 on the parent, because the operation
        # row never enters waiting_for_deploy. Either shape is claimed.
        Clause.DEFERRED_DEPLOY_START: (
            f"({o}.state = '{A.WAITING_FOR_DEPLOY}'"
            f" OR ({o}.state IN ({CLAIMABLE_SQL}) AND {parent_waiting}))"
            f" AND {start_newer_than_lease}"
        ),
        Clause.RETRY: (
            f"{o}.state = '{A.FAILED_RETRYABLE}' AND EXISTS (SELECT 1 FROM applies p"
            f" WHERE p.id = {o}.apply_id AND ((p.state = '{A.FAILED_RETRYABLE}'"
            f" AND p.attempt < {int(windows.retry_budget)}"
            f" AND p.updated_at >= {seconds_ago_sql(vendor, windows.retry_freshness)})"
            f" OR (p.state IN ({CLAIMABLE_SQL}) AND {parent_stale})))"
        ),
    }


def case_sql(clauses: dict[Clause, str]) -> str:
    """``CASE WHEN <clause> THEN '<name>' … END``: NULL when no claim path matches the row."""
    arms = " ".join(f"WHEN {sql} THEN '{clause.value}'" for clause, sql in clauses.items())
    return f"(CASE {arms} END)"


def apply_clause_case(vendor: str, windows: Windows | None = None) -> str:
    return case_sql(apply_clause_sql(vendor, windows or Windows.from_settings()))


def operation_clause_case(vendor: str, windows: Windows | None = None) -> str:
    return case_sql(operation_clause_sql(vendor, windows or Windows.from_settings()))
