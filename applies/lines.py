"""The SchemaBot line ternadmin runs beside, and everything that differs between lines.

ternadmin claims and writes next to SchemaBot's own drivers, so it must claim and write exactly
as the SchemaBot it runs beside would. ``TERNADMIN_SCHEMABOT_LINE`` names that SchemaBot:

- ``b2349ea``: upstream commit b2349ea (PR #265, 2026-06-15), the first release whose recovery
  resumes from persisted engine state;
- ``current``: current upstream (``pkg/storage/mysqlstore`` and ``pkg/api/operator.go`` at
  fe94b2c, PR #770, with the operation-claim paths up to it: #417, #436, #485, #488/#491/#497,
  #502, #513, #540, #581, #591, the cutover claim of #398/#430, stop reconciliation; and the
  later stopped+cancel arm, lease-guarded stop reconciliation, undone operation claims and
  cancelled never-run tasks on expiry). docs/schemabot.md, "After fe94b2c", names what newer
  upstream adds that no line here follows yet.

A ``Line`` says which states that SchemaBot knows, which it reclaims when stale, what a claim
of a stopped row writes, which claim paths run, how retries expire and which columns its
tables have. Nothing else in ternadmin asks which line is configured: it asks the line.

The rule that matters most: ternadmin never writes a state the configured line does not know.
Every state a claim or a drive writes goes through ``Line.spelling`` ("the state this line
calls X"), which refuses a state the line has no word for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings

from applies import states
from applies.models import TableIndex
from applies.states import ApplyState, TaskState

A = ApplyState
SETTING = "TERNADMIN_SCHEMABOT_LINE"


class LineName(StrEnum):
    B2349EA = "b2349ea"
    CURRENT = "current"


@dataclass(frozen=True)
class Column:
    """A column a line's tables have beyond b2349ea's, with its DDL for standalone mode."""

    table: str
    name: str
    mysql: str  # the column definition after the name, as SchemaBot's DDL has it
    sqlite: str

    @property
    def qualified(self) -> str:
        return f"{self.table}.{self.name}"


@dataclass(frozen=True)
class Line:
    name: LineName
    title: str
    # Apply (and operation) states this SchemaBot can write; anything else is foreign to it.
    apply_states: frozenset[str]
    task_states: frozenset[str]
    # Reclaimed by the stale-active clause (upstream ``claimableApplyStates``).
    claimable_states: tuple[str, ...]
    # What this line calls a state it has no word for (HEAD's finer states, b2349ea's words).
    fallbacks: Mapping[str, str]
    # The state a claim of a stopped apply with a start request writes.
    stopped_apply_claim_state: str
    # The state a claim of a stopped operation row writes; ``None``: the row keeps ``stopped``.
    stopped_operation_claim_state: str | None
    # Apply-level queued clause: tasks only (b2349ea), or tasks or an operation row (#635).
    queued_by_operation_row: bool
    # One active apply per target: the parent's deployment (b2349ea), or every deployment of
    # the parent and its operation rows (#396).
    operation_targets: bool
    # Operation-level claim paths and gates.
    pending_stop_gate: bool  # no pending operation starts while a stop is pending
    barrier_park_exemption: bool  # #417: a parked multi-operation row waits for the cutover claim
    parallel_policy: bool  # #540
    deferred_deploy_on_parent: bool  # #436
    shard_siblings: bool  # #491/#497: operation_key, operation_kind, group finalizers
    released_pause: bool  # #581: a released pause exempts failed siblings like continue
    operation_attempts: bool  # #513/#485: retry attempts on operation rows and their parent
    cutover_claim: bool  # #398/#430
    stop_reconciliation: bool  # #581
    stopped_cancel: bool  # a pending cancel claims a stopped apply/operation to deliver it
    # The operator's default claim mode (``operator_claim_operations``): operation rows first,
    # then their parent, since #431; the apply-level clauses before it.
    claims_operations: bool
    # When the parent of a claimed operation cannot be claimed and is not terminal: release the
    # operation's lease at once (current), or leave it leased until it goes stale (b2349ea).
    release_unclaimable_operation: bool
    # ExpireRetryable: pending tasks are cancelled (they never ran); retryable operation rows
    # fail with the apply (#485).
    expiry_cancels_pending_tasks: bool
    expiry_fails_operations: bool
    columns: tuple[Column, ...] = ()
    # Indexes the line's DDL adds or shapes differently from b2349ea's, by table.
    indexes: Mapping[str, tuple[TableIndex, ...]] = field(default_factory=dict)

    def knows(self, state: str) -> bool:
        return state in self.apply_states

    def claimable(self, state: str) -> bool:
        return state in self.claimable_states

    def spelling(self, state: str) -> str:
        """The state this line calls ``state``; ``ValueError`` if it has no word for it."""
        if state in self.apply_states:
            return state
        if state in self.fallbacks:
            return self.fallbacks[state]
        raise ValueError(f"SchemaBot {self.name} has no state {str(state)!r}; refusing to write it")

    def task_spelling(self, state: str) -> str:
        if state in self.task_states:
            return state
        if state in self.fallbacks:
            return self.fallbacks[state]
        raise ValueError(
            f"SchemaBot {self.name} has no task state {str(state)!r}; refusing to write it"
        )


# States current upstream added after b2349ea (pkg/state/apply.go; docs/schemabot.md, "What
# changed after b2349ea"): #400, #424, #487, #588, #629.
_HEAD_APPLY_STATES = frozenset(
    {A.RUNNING_DEGRADED, A.RESUMING, A.PAUSED, A.SKIPPING_REVERT, A.REVERTING}
)
_HEAD_TASK_STATES = frozenset({TaskState.CHECKSUMMING, TaskState.REVERTING})
_HEAD_CLAIMABLE = frozenset({A.RUNNING_DEGRADED, A.RESUMING, A.REVERTING, A.SKIPPING_REVERT})

B2349EA = Line(
    name=LineName.B2349EA,
    title="SchemaBot b2349ea (PR #265)",
    apply_states=frozenset(states.APPLY_STATES) - _HEAD_APPLY_STATES,
    task_states=frozenset(states.TASK_STATES) - _HEAD_TASK_STATES,
    claimable_states=tuple(s for s in states.CLAIMABLE_APPLY_STATES if s not in _HEAD_CLAIMABLE),
    # b2349ea's words for HEAD's finer states: a resumed or degraded apply is running, a
    # deploy request reverting maps to running (deployStateToEngineState@b2349ea), and a skip of
    # the revert window stays in the revert window until the deploy request completes.
    fallbacks={
        A.RESUMING: A.RUNNING,
        A.RUNNING_DEGRADED: A.RUNNING,
        A.REVERTING: A.RUNNING,
        A.SKIPPING_REVERT: A.REVERT_WINDOW,
        TaskState.CHECKSUMMING: TaskState.RUNNING,
    },
    stopped_apply_claim_state=A.RUNNING,
    stopped_operation_claim_state=None,
    queued_by_operation_row=False,
    operation_targets=False,
    pending_stop_gate=False,
    barrier_park_exemption=False,
    parallel_policy=False,
    deferred_deploy_on_parent=False,
    shard_siblings=False,
    released_pause=False,
    operation_attempts=False,
    cutover_claim=False,
    stop_reconciliation=False,
    stopped_cancel=False,
    claims_operations=False,
    release_unclaimable_operation=False,
    expiry_cancels_pending_tasks=False,
    expiry_fails_operations=False,
)

CURRENT = Line(
    name=LineName.CURRENT,
    title="current upstream SchemaBot",
    apply_states=frozenset(states.APPLY_STATES),
    task_states=frozenset(states.TASK_STATES),
    claimable_states=states.CLAIMABLE_APPLY_STATES,
    fallbacks={},
    stopped_apply_claim_state=A.RESUMING,
    stopped_operation_claim_state=A.RESUMING,
    queued_by_operation_row=True,
    operation_targets=True,
    pending_stop_gate=True,
    barrier_park_exemption=True,
    parallel_policy=True,
    deferred_deploy_on_parent=True,
    shard_siblings=True,
    released_pause=True,
    operation_attempts=True,
    cutover_claim=True,
    stop_reconciliation=True,
    stopped_cancel=True,
    claims_operations=True,
    release_unclaimable_operation=True,
    expiry_cancels_pending_tasks=True,
    expiry_fails_operations=True,
    # Upstream pkg/schema/mysql/*.sql: #488 (operation_key, operation_kind), #502
    # (idempotency_key), #459/#496 (revert_skipped_at), #513 (attempt), and the remote
    # correlation columns of the operation row.
    columns=(
        Column("applies", "idempotency_key", "varchar(255) NULL", "varchar(255) NULL"),
        Column("applies", "revert_skipped_at", "datetime NULL", "datetime NULL"),
        Column(
            "apply_operations",
            "operation_key",
            "varchar(255) NOT NULL DEFAULT ''",
            "varchar(255) NOT NULL DEFAULT ''",
        ),
        Column(
            "apply_operations",
            "operation_kind",
            "varchar(32) NOT NULL DEFAULT 'work'",
            "varchar(32) NOT NULL DEFAULT 'work'",
        ),
        Column("apply_operations", "external_id", "varchar(255) NULL", "varchar(255) NULL"),
        Column(
            "apply_operations", "external_operation_id", "varchar(255) NULL", "varchar(255) NULL"
        ),
        Column(
            "apply_operations", "attempt", "int NOT NULL DEFAULT 0", "integer NOT NULL DEFAULT 0"
        ),
    ),
    # Shard work of one deployment is several rows (#488): the unique key gains operation_key.
    indexes={
        "applies": (TableIndex("idx_idempotency_key", ("idempotency_key",), unique=True),),
        "apply_operations": (
            TableIndex(
                "idx_apply_operation", ("apply_id", "deployment", "operation_key"), unique=True
            ),
            TableIndex("idx_apply_created_id", ("apply_id", "created_at", "id")),
        ),
    },
)

LINES: Mapping[str, Line] = {line.name.value: line for line in (B2349EA, CURRENT)}
DEFAULT = LineName.CURRENT


def current_line() -> Line:
    """The line ternadmin is configured to run beside (``TERNADMIN_SCHEMABOT_LINE``)."""
    return LINES[str(getattr(settings, SETTING, DEFAULT))]


def claims_operations() -> bool:
    """Whether claims take an operation row first, then its parent (SchemaBot's
    ``operator_claim_operations``): ``TERNADMIN_CLAIM_OPERATIONS`` when it is set, else what
    the configured line's operator does by default."""
    chosen = getattr(settings, "TERNADMIN_CLAIM_OPERATIONS", None)
    return current_line().claims_operations if chosen is None else bool(chosen)
