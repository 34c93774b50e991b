"""The demo's static data: the fleet, the people, the guaranteed cases and the state mixes.

Nothing here draws from the RNG; ``world`` and ``planner`` pick from these tables.
"""

from __future__ import annotations

from enum import Enum

from applies.states import SETUP_PHASE_STATES, ApplyState, TaskState
from applies.vocabulary import DatabaseType, Engine

A = ApplyState
T = TaskState

# A state no SchemaBot release we know writes, standing in for one a newer (or older) release
# might: the console must show it as unknown and no claim path may touch it.
UNKNOWN_STATE = "migrating"

DATABASE_TYPE = {Engine.SPIRIT: DatabaseType.MYSQL, Engine.PLANETSCALE: DatabaseType.VITESS}
# tasks.ddl_action of the demo's DDL; applies.vocabulary does not list these (nothing reads them).
CREATE, ALTER, DROP = "create", "alter", "drop"

ORG = "acme"
ENVIRONMENTS = ("staging", "production")
DEFAULT_DEPLOYMENT = "default"
MULTI_REGION = ("us-east", "eu-west")
REPOSITORIES = ("acme/storefront", "acme/payments", "acme/platform", "acme/identity")
PEOPLE = ("alice", "bob", "carol", "dmitri", "erin", "farah")
DATABASES = {
    Engine.SPIRIT: (
        "orders", "payments", "inventory", "users", "ledger", "shipping", "catalog",
        "notifications", "audit_log", "billing_events", "fraud_signals",
        "customer_support_tickets", "feature_flags", "search_index_state",
    ),
    Engine.PLANETSCALE: (
        "commerce", "customer_profiles", "merchant_settlements_archive", "product_reviews",
        "risk_scores", "sessions", "event_stream", "loyalty_points", "checkout_sessions",
        "payouts", "identity_verification_records", "pricing",
    ),
}  # fmt: skip
TABLES = (
    "accounts", "line_items", "invoices", "audit_entries", "addresses", "refunds",
    "shipments", "api_keys", "webhooks", "settings", "events", "balances",
)  # fmt: skip
NEW_COLUMNS = ("external_ref", "region", "archived_at", "risk_level", "currency", "source")


class Kind(Enum):
    """Why an apply is in its state, which decides its timestamps and leases."""

    HISTORY = "history"  # finished, possibly long ago
    STALE = "stale"  # heartbeat older than the stale window: its driver is gone
    FRESH = "fresh"  # heartbeat a few seconds old: a live driver holds it, hands off
    RETRY_IN_BUDGET = "retry_in_budget"
    RETRY_OVER_BUDGET = "retry_over_budget"
    RETRY_TOO_OLD = "retry_too_old"
    IDLE = "idle"  # stopped, and nobody asked to start it again
    QUEUED = "queued"  # pending with tasks, never started
    START_REQUESTED = "start_requested"  # a pending start request waits for a claim


_S = tuple(A(state) for state in SETUP_PHASE_STATES)
_SPIRIT, _PS = Engine.SPIRIT, Engine.PLANETSCALE
# The cases the sweep and the console must get right, always seeded rather than left to chance.
SPECIAL_CASES: tuple[tuple[str, Engine, Kind], ...] = (
    *((state, _PS, Kind.STALE) for state in _S),
    (A.RUNNING, _PS, Kind.STALE),
    (A.WAITING_FOR_CUTOVER, _PS, Kind.STALE),
    (A.REVERT_WINDOW, _PS, Kind.STALE),
    (A.RUNNING, _SPIRIT, Kind.STALE),
    (A.WAITING_FOR_CUTOVER, _SPIRIT, Kind.STALE),
    (A.CUTTING_OVER, _SPIRIT, Kind.STALE),
    (A.RUNNING, _PS, Kind.FRESH),
    (A.RUNNING, _SPIRIT, Kind.FRESH),
    (A.PREPARING_BRANCH, _PS, Kind.FRESH),
    (A.VALIDATING_DEPLOY_REQUEST, _PS, Kind.FRESH),
    (A.WAITING_FOR_DEPLOY, _PS, Kind.FRESH),
    (A.FAILED_RETRYABLE, _SPIRIT, Kind.RETRY_IN_BUDGET),
    (A.FAILED_RETRYABLE, _PS, Kind.RETRY_IN_BUDGET),
    (A.FAILED_RETRYABLE, _SPIRIT, Kind.RETRY_OVER_BUDGET),
    (A.FAILED_RETRYABLE, _PS, Kind.RETRY_TOO_OLD),
    (A.PAUSED, _PS, Kind.STALE),
    (UNKNOWN_STATE, _SPIRIT, Kind.STALE),
    (A.STOPPED, _SPIRIT, Kind.IDLE),
    (A.PENDING, _SPIRIT, Kind.QUEUED),
    (A.STOPPED, _SPIRIT, Kind.START_REQUESTED),
    (A.WAITING_FOR_DEPLOY, _PS, Kind.START_REQUESTED),
)
MINIMUM_APPLIES = len(SPECIAL_CASES)

ACTIVE_MIX: tuple[tuple[A, int], ...] = (
    (A.RUNNING, 40), (A.WAITING_FOR_CUTOVER, 10), (A.CUTTING_OVER, 4), (A.REVERT_WINDOW, 12),
    (A.WAITING_FOR_DEPLOY, 4), (A.PREPARING_BRANCH, 3), (A.APPLYING_BRANCH_CHANGES, 3),
    (A.VALIDATING_BRANCH, 2), (A.CREATING_DEPLOY_REQUEST, 2), (A.VALIDATING_DEPLOY_REQUEST, 4),
    (A.RECOVERING, 2), (A.PENDING, 4),
)  # fmt: skip
# PlanetScale stops by cancelling the deploy request; only Spirit applies end up `stopped`.
TERMINAL_MIX: dict[Engine, tuple[tuple[A, int], ...]] = {
    _SPIRIT: ((A.COMPLETED, 88), (A.FAILED, 7), (A.STOPPED, 5)),
    _PS: ((A.COMPLETED, 84), (A.FAILED, 6), (A.CANCELLED, 5), (A.REVERTED, 5)),
}
PLANETSCALE_ONLY = {*_S, A.WAITING_FOR_DEPLOY, A.REVERT_WINDOW, A.REVERTED, A.CANCELLED}

# The task state that goes with an apply state (the first task; see paths.task_state for the
# rest).
TASK_STATE: dict[str, T] = {
    **dict.fromkeys((A.PENDING, *_S), T.PENDING),
    A.WAITING_FOR_DEPLOY: T.WAITING_FOR_DEPLOY,
    A.RUNNING: T.RUNNING,
    A.WAITING_FOR_CUTOVER: T.WAITING_FOR_CUTOVER,
    A.RECOVERING: T.RECOVERING,
    A.CUTTING_OVER: T.CUTTING_OVER,
    A.REVERT_WINDOW: T.REVERT_WINDOW,
    A.COMPLETED: T.COMPLETED,
    A.FAILED: T.FAILED,
    A.FAILED_RETRYABLE: T.FAILED_RETRYABLE,
    A.PAUSED: T.FAILED,
    A.STOPPED: T.STOPPED,
    A.CANCELLED: T.CANCELLED,
    A.REVERTED: T.REVERTED,
}
SIBLING_TASK_STATE = {T.FAILED: T.CANCELLED, T.FAILED_RETRYABLE: T.PENDING}
COPY_DONE = {T.COMPLETED, T.WAITING_FOR_CUTOVER, T.CUTTING_OVER, T.REVERT_WINDOW, T.REVERTED}
NOT_STARTED = {T.PENDING, T.WAITING_FOR_DEPLOY, T.CANCELLED}

ERRORS: dict[Engine, tuple[str, ...]] = {
    _SPIRIT: (
        "Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction",
        "checksum failed: table data differs after copy",
        "replica lag exceeded 30s for 10m",
    ),
    _PS: (
        "deploy request failed during preparation (state: error)",
        "branch not ready after 30m0s",
        "vtgate: connection reset by peer",
    ),
}
