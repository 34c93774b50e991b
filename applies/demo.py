"""Demo data for SchemaBot's tables: a plausible history plus every case recovery must face.

``manage.py seed_demo`` calls :func:`seed`. Every apply gets a plan, a lock, one operation and
tasks; applies with *detail* also get 1-3 tasks, a state-transition log and control requests.
The cases the sweep and the console must get right are always there, not left to chance
(``SPECIAL_CASES``): stale applies in every PlanetScale setup phase and a few other claimable
states, fresh ones a live driver holds, retries in and out of budget, ``paused``, a state no
release we know writes, a queued apply and start requests.

Speed: rows are generated in Python with explicit ids (children point at parents without
reading anything back) and written per chunk with one multi-row INSERT statement batch per
table; a million applies take minutes. Only ``DETAIL_BUDGET`` history applies get full detail,
so the child tables keep a realistic shape without multiplying the row count.

Every timestamp is a whole-second offset from the *database* clock: staleness is judged by the
database (``applies.dbclock``), so seeding from an app host with a skewed clock must not make a
"stale" apply look fresh there, or the other way round. The clock is read twice: once for the
history, and again just before the recent applies are written, so that a seed lasting minutes
still ends with its fresh applies fresh.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import NamedTuple

from django.conf import settings
from django.core.management.color import no_style
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from applies.dbclock import database_now
from applies.models import (
    SCHEMABOT_MODELS,
    Apply,
    ApplyControlRequest,
    ApplyLog,
    ApplyOperation,
    Lock,
    Plan,
    SchemaBotTable,
    Task,
)
from applies.schema import schema_problems
from applies.states import (
    SETUP_PHASE_STATES,
    TERMINAL_APPLY_STATES,
    TERMINAL_TASK_STATES,
    ApplyState,
    TaskState,
)
from ternadmin.config import STANDALONE

A = ApplyState
T = TaskState
Row = tuple[str | int | None, ...]  # what a raw INSERT sends: text, numbers, NULL
Batch = dict[type[SchemaBotTable], list[Row]]

DEFAULT_APPLIES = 400
DEFAULT_SEED = 20260615
DEFAULT_CHUNK = 10_000
# History applies beyond this many get the lean shape (one operation, one task, no logs).
DETAIL_BUDGET = 20_000
# Share of applies that are in flight, bounded by the targets free for one (one per target).
ACTIVE_SHARE = 0.06
RECENT_TERMINAL = 40

# A state no SchemaBot release we know writes, standing in for one a newer (or older) release
# might: the console must show it as unknown and no claim path may touch it.
UNKNOWN_STATE = "migrating"

SPIRIT, PLANETSCALE = "spirit", "planetscale"
DATABASE_TYPE = {SPIRIT: "mysql", PLANETSCALE: "vitess"}
# Control-request, log and operation vocabulary (domain.md §1.2, §1.4, §1.5): not apply or
# task states, so applies.states does not list them.
START, STOP = "start", "stop"
REQUEST_PENDING, REQUEST_COMPLETED, REQUEST_FAILED = "pending", "completed", "failed"
STATE_TRANSITION, SOURCE = "state_transition", "schemabot"
LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR = "info", "warn", "error"
ON_FAILURE_HALT, ON_FAILURE_PAUSE, CUTOVER_ROLLING = "halt", "pause", "rolling"
CREATE, ALTER, DROP = "create", "alter", "drop"

MINUTE, HOUR, DAY = 60, 3600, 86_400
ORG = "acme"
ENVIRONMENTS = ("staging", "production")
DEFAULT_DEPLOYMENT = "default"
MULTI_REGION = ("us-east", "eu-west")
REPOSITORIES = ("acme/storefront", "acme/payments", "acme/platform", "acme/identity")
PEOPLE = ("alice", "bob", "carol", "dmitri", "erin", "farah")
DATABASES = {
    SPIRIT: (
        "orders", "payments", "inventory", "users", "ledger", "shipping", "catalog",
        "notifications", "audit_log", "billing_events", "fraud_signals",
        "customer_support_tickets", "feature_flags", "search_index_state",
    ),
    PLANETSCALE: (
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
SPECIAL_CASES: tuple[tuple[str, str, Kind], ...] = (
    *((state, PLANETSCALE, Kind.STALE) for state in _S),
    (A.RUNNING, PLANETSCALE, Kind.STALE),
    (A.WAITING_FOR_CUTOVER, PLANETSCALE, Kind.STALE),
    (A.REVERT_WINDOW, PLANETSCALE, Kind.STALE),
    (A.RUNNING, SPIRIT, Kind.STALE),
    (A.WAITING_FOR_CUTOVER, SPIRIT, Kind.STALE),
    (A.CUTTING_OVER, SPIRIT, Kind.STALE),
    (A.RUNNING, PLANETSCALE, Kind.FRESH),
    (A.RUNNING, SPIRIT, Kind.FRESH),
    (A.PREPARING_BRANCH, PLANETSCALE, Kind.FRESH),
    (A.VALIDATING_DEPLOY_REQUEST, PLANETSCALE, Kind.FRESH),
    (A.WAITING_FOR_DEPLOY, PLANETSCALE, Kind.FRESH),
    (A.FAILED_RETRYABLE, SPIRIT, Kind.RETRY_IN_BUDGET),
    (A.FAILED_RETRYABLE, PLANETSCALE, Kind.RETRY_IN_BUDGET),
    (A.FAILED_RETRYABLE, SPIRIT, Kind.RETRY_OVER_BUDGET),
    (A.FAILED_RETRYABLE, PLANETSCALE, Kind.RETRY_TOO_OLD),
    (A.PAUSED, PLANETSCALE, Kind.STALE),
    (UNKNOWN_STATE, SPIRIT, Kind.STALE),
    (A.STOPPED, SPIRIT, Kind.IDLE),
    (A.PENDING, SPIRIT, Kind.QUEUED),
    (A.STOPPED, SPIRIT, Kind.START_REQUESTED),
    (A.WAITING_FOR_DEPLOY, PLANETSCALE, Kind.START_REQUESTED),
)
MINIMUM_APPLIES = len(SPECIAL_CASES)

_ACTIVE_MIX: tuple[tuple[A, int], ...] = (
    (A.RUNNING, 40), (A.WAITING_FOR_CUTOVER, 10), (A.CUTTING_OVER, 4), (A.REVERT_WINDOW, 12),
    (A.WAITING_FOR_DEPLOY, 4), (A.PREPARING_BRANCH, 3), (A.APPLYING_BRANCH_CHANGES, 3),
    (A.VALIDATING_BRANCH, 2), (A.CREATING_DEPLOY_REQUEST, 2), (A.VALIDATING_DEPLOY_REQUEST, 4),
    (A.RECOVERING, 2), (A.PENDING, 4),
)  # fmt: skip
# PlanetScale stops by cancelling the deploy request; only Spirit applies end up `stopped`.
_TERMINAL_MIX: dict[str, tuple[tuple[A, int], ...]] = {
    SPIRIT: ((A.COMPLETED, 88), (A.FAILED, 7), (A.STOPPED, 5)),
    PLANETSCALE: ((A.COMPLETED, 84), (A.FAILED, 6), (A.CANCELLED, 5), (A.REVERTED, 5)),
}
_PLANETSCALE_ONLY = {*_S, A.WAITING_FOR_DEPLOY, A.REVERT_WINDOW, A.REVERTED, A.CANCELLED}
# The task state that goes with an apply state (the first task; see _task_state for the rest).
_TASK_STATE: dict[str, T] = {
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
_SIBLING_TASK_STATE = {T.FAILED: T.CANCELLED, T.FAILED_RETRYABLE: T.PENDING}
_COPY_DONE = {T.COMPLETED, T.WAITING_FOR_CUTOVER, T.CUTTING_OVER, T.REVERT_WINDOW, T.REVERTED}
_NOT_STARTED = {T.PENDING, T.WAITING_FOR_DEPLOY, T.CANCELLED}
_ERRORS = {
    SPIRIT: (
        "Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction",
        "checksum failed: table data differs after copy",
        "replica lag exceeded 30s for 10m",
    ),
    PLANETSCALE: (
        "deploy request failed during preparation (state: error)",
        "branch not ready after 30m0s",
        "vtgate: connection reset by peer",
    ),
}

_COLUMNS: dict[type[SchemaBotTable], tuple[str, ...]] = {
    Lock: (
        "id", "database_name", "database_type", "repository", "pull_request", "owner",
        "pending_plan_id", "created_at", "updated_at",
    ),
    Plan: (
        "id", "plan_identifier", "database_name", "database_type", "deployment", "target",
        "repository", "pull_request", "schema_path", "environment", "schema_files", "plan_data",
        "head_sha", "created_at",
    ),
    Apply: (
        "id", "apply_identifier", "lock_id", "plan_id", "database_name", "database_type",
        "repository", "pull_request", "environment", "deployment", "caller", "installation_id",
        "external_id", "engine", "state", "error_message", "options", "attempt", "lease_owner",
        "lease_token", "lease_acquired_at", "started_at", "completed_at", "created_at",
        "updated_at",
    ),
    ApplyOperation: (
        "id", "apply_id", "deployment", "target", "engine_resume_context",
        "engine_resume_metadata", "state", "error_message", "cutover_policy", "on_failure",
        "lease_owner", "lease_token", "lease_acquired_at", "started_at", "completed_at",
        "created_at", "updated_at",
    ),
    Task: (
        "id", "task_identifier", "apply_id", "apply_operation_id", "plan_id", "database_name",
        "database_type", "namespace", "table_name", "ddl", "ddl_action", "engine", "repository",
        "pull_request", "environment", "state", "error_message", "options", "attempt",
        "rows_copied", "rows_total", "progress_percent", "eta_seconds", "is_instant",
        "ready_to_complete", "engine_migration_id", "started_at", "completed_at", "created_at",
        "updated_at",
    ),
    ApplyLog: (
        "id", "apply_id", "task_id", "level", "event_type", "source", "message", "old_state",
        "new_state", "metadata", "created_at",
    ),
    ApplyControlRequest: (
        "id", "apply_id", "operation", "status", "requested_by", "error_message", "metadata",
        "completed_at", "created_at", "updated_at",
    ),
}  # fmt: skip


class SeedRefused(Exception):
    """Seeding would overwrite data or write into a database that is not ours to fill."""


class TablesNotEmpty(SeedRefused):
    """SchemaBot's tables already hold rows (and no reset was asked for)."""


def branch_name(database: str, plan_identifier: str) -> str:
    """SchemaBot's deterministic PlanetScale branch name (domain.md §4.4)."""
    return f"schemabot-{database.replace('_', '-')[:20]}-{plan_identifier[-8:]}"


# Compact, like Go's json.Marshal, which wrote every row a real SchemaBot holds.
_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class Change:
    table: str
    action: str
    ddl: str


@dataclass
class Database:
    lock_id: int
    name: str
    engine: str
    repository: str
    changes: tuple[Change, ...]
    schema_files: str
    plan_data: dict[tuple[int, ...], str] = field(default_factory=dict)  # cache by changes
    deploy_requests: int = 0  # last deploy-request number handed out

    @property
    def database_type(self) -> str:
        return DATABASE_TYPE[self.engine]


@dataclass(frozen=True)
class Target:
    """Where an apply runs; SchemaBot allows one non-terminal apply per target (§3.4)."""

    database: Database
    environment: str
    deployment: str


@dataclass
class Spec:
    """One apply to generate. Times are seconds before the database clock."""

    state: str
    target: Target
    kind: Kind
    created_ago: int
    started_ago: int | None
    updated_ago: int
    completed_ago: int | None
    attempt: int = 0
    detail: bool = True

    @property
    def engine(self) -> str:
        return self.target.database.engine


@dataclass(frozen=True)
class Lease:
    owner: str = ""
    token: str = ""
    acquired_ago: int | None = None


@dataclass(frozen=True)
class Windows:
    """The recovery windows from settings, which decide what "stale" and "fresh" mean."""

    stale_after: int
    retry_budget: int
    retry_freshness: int

    @classmethod
    def from_settings(cls) -> Windows:
        return cls(
            settings.TERNADMIN_STALE_AFTER_SECONDS,
            settings.TERNADMIN_RETRY_BUDGET,
            settings.TERNADMIN_RETRY_FRESHNESS_SECONDS,
        )


@dataclass(frozen=True)
class Clock:
    now: datetime  # naive UTC, whole seconds, read from the database
    epoch: int  # the same instant in Unix seconds

    @classmethod
    def of(cls, now: datetime) -> Clock:
        """From an aware datetime (``database_now``)."""
        return cls(now.replace(microsecond=0, tzinfo=None), int(now.timestamp()))

    def at(self, ago: int | None) -> str | None:
        # Naive UTC text: what both SQLite and MySQL DATETIME columns hold.
        return None if ago is None else (self.now - timedelta(seconds=ago)).isoformat(" ")

    def rfc3339(self, ago: int) -> str:
        return (self.now - timedelta(seconds=ago)).isoformat() + "Z"


@dataclass
class SeedReport:
    applies: int
    counts: Counter[str]
    elapsed: float

    def summary(self) -> str:
        tables = ", ".join(
            f"{m._meta.db_table}={self.counts[m._meta.db_table]:,}" for m in _COLUMNS
        )
        return f"Seeded {self.applies:,} demo applies in {self.elapsed:.1f}s ({tables})."


# --- Entry point --------------------------------------------------------------------------------


def seed(
    applies: int = DEFAULT_APPLIES,
    *,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[str], object] | None = None,
) -> SeedReport:
    """Fill SchemaBot's (empty, standalone) tables with ``applies`` demo applies.

    Raises SeedRefused in attach mode, when the tables are missing, or when they hold rows and
    ``reset`` is false. With ``reset`` every row of the seven tables is deleted first.
    """
    using = settings.SCHEMABOT_DATABASE
    check_may_seed(using, applies=applies, reset=reset)
    started = time.perf_counter()
    connection = connections[using]
    if reset:
        _empty_tables(connection)
    builder = _Builder(
        random.Random(seed), lambda: Clock.of(database_now(using)), Windows.from_settings()
    )
    _write(connection, {Lock: builder.lock_rows()}, builder.counts)
    for done, batch in builder.batches(applies, max(1, chunk_size)):
        _write(connection, batch, builder.counts)
        if progress:
            progress(f"  {done:,}/{applies:,} applies ({time.perf_counter() - started:.1f}s)")
    return SeedReport(applies, builder.counts, time.perf_counter() - started)


def check_may_seed(using: str, *, applies: int, reset: bool) -> None:
    if settings.SCHEMABOT_MODE != STANDALONE:
        raise SeedRefused(
            f"SCHEMABOT_MODE={settings.SCHEMABOT_MODE}: seed_demo never writes demo data into a "
            "real SchemaBot database. Use SCHEMABOT_MODE=standalone with a scratch database."
        )
    if applies < MINIMUM_APPLIES:
        raise SeedRefused(f"--applies must be at least {MINIMUM_APPLIES} (the guaranteed cases).")
    if problems := schema_problems(using):
        raise SeedRefused(
            f"SchemaBot's tables are not ready ({problems[0]}); run `manage.py migrate` first."
        )
    filled = [m._meta.db_table for m in SCHEMABOT_MODELS if m.objects.using(using).exists()]
    if filled and not reset:
        raise TablesNotEmpty(
            f"SchemaBot's tables already hold rows ({', '.join(filled)}); nothing was written. "
            "Pass --reset to delete every row of the SchemaBot tables and seed again."
        )


def _empty_tables(connection: BaseDatabaseWrapper) -> None:
    tables = [model._meta.db_table for model in SCHEMABOT_MODELS]
    # On MySQL, reset_sequences makes this TRUNCATE: a DELETE of a million InnoDB rows takes
    # minutes. TRUNCATE commits implicitly, so inside a transaction (a test) it stays DELETE.
    truncate = connection.vendor == "mysql" and not connection.in_atomic_block
    sql = connection.ops.sql_flush(no_style(), tables, reset_sequences=truncate)
    connection.ops.execute_sql_flush(sql)


def _write(connection: BaseDatabaseWrapper, batch: Batch, counts: Counter[str]) -> None:
    """Insert one chunk in one transaction; mysqlclient turns executemany into multi-row INSERTs."""
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for model, rows in batch.items():
            if not rows:
                continue
            columns = _COLUMNS[model]
            table = model._meta.db_table
            placeholders = ", ".join(["%s"] * len(columns))
            sql = (
                f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) "
                f"VALUES ({placeholders})"
            )
            cursor.executemany(sql, rows)
            counts[table] += len(rows)


# --- Generation ---------------------------------------------------------------------------------

_MASK32 = (1 << 32) - 1
# Identifiers are k-sortable, like ULIDs: creation time, then a suffix that n -> (n ^ salt) * K
# mod 2**32 (K odd) makes unique for every n < 2**32 and random-looking. Time first keeps the
# inserts into their UNIQUE indexes at the right edge of the B-tree: with random identifiers a
# million-row seed spends most of its time on random index page writes. The plan identifier's
# unique last 8 hex digits also make every PlanetScale branch name unique.
_APPLY_K, _PLAN_K, _TASK_K = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9


def _weighted(mix: Sequence[tuple[A, int]]) -> tuple[list[A], list[int]]:
    states, cumulative, total = [], [], 0
    for state, weight in mix:
        total += weight
        states.append(state)
        cumulative.append(total)
    return states, cumulative


def _happy_path(engine: str, options: dict[str, object]) -> list[str]:
    """The states an apply passes through when nothing goes wrong (domain.md §2.1, §7.1)."""
    path: list[str] = [A.PENDING]
    if engine == PLANETSCALE:
        path += SETUP_PHASE_STATES  # the registry lists them in the order SchemaBot emits them
        if options.get("defer_deploy"):
            path.append(A.WAITING_FOR_DEPLOY)
    path.append(A.RUNNING)
    if options.get("defer_cutover"):
        path.append(A.WAITING_FOR_CUTOVER)
    path.append(A.CUTTING_OVER)
    if engine == PLANETSCALE and not options.get("skip_revert"):
        path.append(A.REVERT_WINDOW)
    return [*path, A.COMPLETED]


def _task_state(apply_state: str, position: int) -> T:
    # An apply state we do not know still has tasks that were running when it was written.
    state = _TASK_STATE.get(apply_state, T.RUNNING)
    return _SIBLING_TASK_STATE.get(state, state) if position else state


class _Times(NamedTuple):
    """An apply's timestamps, formatted once and shared by its operation and tasks."""

    lease_acquired: str | None
    started: str | None
    completed: str | None
    created: str | None
    updated: str | None


@dataclass(frozen=True)
class _Apply:
    """An apply being turned into rows: its spec plus what its child rows share."""

    id: int
    spec: Spec
    identifier: str
    plan_identifier: str
    changes: tuple[int, ...]  # indexes into its database's changes, one task each
    options: dict[str, object]
    options_json: str
    path: list[str]  # the states it went through, ending in its own
    path_agos: list[int]  # when it entered each
    lease: Lease
    times: _Times
    instant: bool
    error: str | None
    pull_request: int


class _Builder:
    """Generates specs and rows from one seeded RNG consumed in a fixed order (same seed, same
    data). Ids are assigned here, in insert order, so no row is ever read back."""

    def __init__(
        self, rng: random.Random, read_clock: Callable[[], Clock], windows: Windows
    ) -> None:
        self.rng, self.read_clock, self.windows = rng, read_clock, windows
        self.clock = read_clock()
        self.counts: Counter[str] = Counter()
        named = [(engine, name) for engine, names in DATABASES.items() for name in names]
        self.databases = [self._database(i, e, n) for i, (e, n) in enumerate(named, start=1)]
        self.targets = {engine: self._targets(engine) for engine in DATABASES}
        # Targets with no non-terminal apply yet, in a seeded order (one active per target).
        self.free = {engine: rng.sample(t, len(t)) for engine, t in self.targets.items()}
        self.owners = [
            f"host-{h}/{rng.randint(1000, 65000)}/driver-{d}" for h in "ab" for d in (1, 2, 3)
        ]
        self.salt = rng.getrandbits(64)
        self.active_mix = _weighted(_ACTIVE_MIX)
        self.terminal_mix = {engine: _weighted(mix) for engine, mix in _TERMINAL_MIX.items()}
        self.next_task = self.next_log = self.next_request = 1

    # -- catalogue --

    def _database(self, lock_id: int, engine: str, name: str) -> Database:
        tables = self.rng.sample(TABLES, 4)
        files = {
            f"{t}.sql": f"CREATE TABLE `{t}` (\n  `id` bigint unsigned NOT NULL AUTO_INCREMENT,"
            "\n  `created_at` datetime NOT NULL,\n  PRIMARY KEY (`id`)\n);\n"
            for t in tables
        }
        if engine == PLANETSCALE:
            files["vschema.json"] = _json({"sharded": False, "tables": {t: {} for t in tables}})
        schema_files = _json({name: {"Files": files}})
        changes = tuple(self._change(table) for table in tables)
        repository = REPOSITORIES[lock_id % len(REPOSITORIES)]
        return Database(lock_id, name, engine, repository, changes, schema_files)

    def _change(self, table: str) -> Change:
        roll, column = self.rng.random(), self.rng.choice(NEW_COLUMNS)
        if roll < 0.12:
            ddl = (
                f"CREATE TABLE `{table}_archive` (`id` bigint unsigned NOT NULL AUTO_INCREMENT, "
                "`payload` json NOT NULL, PRIMARY KEY (`id`))"
            )
            return Change(f"{table}_archive", CREATE, ddl)
        if roll < 0.18:
            return Change(f"{table}_legacy", DROP, f"DROP TABLE `{table}_legacy`")
        if roll < 0.6:
            return Change(
                table, ALTER, f"ALTER TABLE `{table}` ADD COLUMN `{column}` varchar(64) NOT NULL"
            )
        return Change(table, ALTER, f"ALTER TABLE `{table}` ADD INDEX `idx_{column}` (`{column}`)")

    def _targets(self, engine: str) -> list[Target]:
        targets = []
        for database in (d for d in self.databases if d.engine == engine):
            regional = database.lock_id % 4 == 0
            for deployment in MULTI_REGION if regional else (DEFAULT_DEPLOYMENT,):
                targets += [Target(database, env, deployment) for env in ENVIRONMENTS]
        return targets

    def lock_rows(self) -> list[Row]:
        # SchemaBot allows one lock row per database (UNIQUE idx_database), so a database's
        # applies share one; it names the pull request holding it now.
        rows: list[Row] = []
        for db in self.databases:
            pr, at = self.rng.randint(100, 9000), self.clock.at(self.rng.randint(HOUR, 30 * DAY))
            owner = f"{db.repository}#{pr}"
            rows.append(
                (db.lock_id, db.name, db.database_type, db.repository, pr, owner, "", at, at)
            )
        return rows

    # -- specs --

    def batches(self, total: int, chunk_size: int) -> Iterator[tuple[int, Batch]]:
        """Rows for ``total`` applies, ``chunk_size`` applies at a time, oldest first.

        The recent applies come last, in a chunk of their own timed by a second reading of the
        clock: a seed that takes minutes must still leave its fresh applies fresh (and its
        stale ones stale by the intended margin) when it is done.
        """
        tail = self._tail_specs(total)
        history = total - len(tail)
        yield from self._chunks(self._history_specs(history, tail), 1, history, chunk_size)
        self.clock = self.read_clock()
        yield from self._chunks(iter(tail), history + 1, total, chunk_size)

    def _chunks(
        self, specs: Iterator[Spec], first_id: int, last_id: int, chunk_size: int
    ) -> Iterator[tuple[int, Batch]]:
        batch = self._new_batch()
        for apply_id, spec in enumerate(specs, start=first_id):
            self._add(batch, apply_id, spec)
            if apply_id % chunk_size == 0 or apply_id == last_id:
                yield apply_id, batch
                batch = self._new_batch()

    @staticmethod
    def _new_batch() -> Batch:
        return {model: [] for model in _COLUMNS if model is not Lock}

    def _tail_specs(self, total: int) -> list[Spec]:
        """The recent applies: every special case, some more in flight, some just finished."""
        specs = [self._active_spec(state, engine, kind) for state, engine, kind in SPECIAL_CASES]
        free = sum(len(targets) for targets in self.free.values())
        extra = min(round(total * ACTIVE_SHARE), free * 3 // 4, total - len(specs))
        specs += [self._random_active_spec() for _ in range(extra)]
        recent = min(RECENT_TERMINAL, total - len(specs))
        specs += [
            self._terminal_spec(self.rng.randint(15 * MINUTE, 2 * DAY)) for _ in range(recent)
        ]
        # AUTO_INCREMENT ids follow creation order, so the tail is sorted by it too.
        return sorted(specs, key=lambda spec: -spec.created_ago)

    def _history_specs(self, count: int, tail: list[Spec]) -> Iterator[Spec]:
        """Finished applies, oldest first, spread evenly before the tail's oldest apply."""
        newest = max(spec.created_ago for spec in tail) + 10 * MINUTE
        step = min(max(count * 2 * HOUR, 30 * DAY), 3 * 365 * DAY) / max(count, 1)
        detail_share = DETAIL_BUDGET / max(count, 1)
        for i in range(count):
            created = newest + int((count - i - self.rng.random()) * step)
            yield self._terminal_spec(created, detail=self.rng.random() < detail_share)

    def _engine(self) -> str:
        return SPIRIT if self.rng.random() < 0.55 else PLANETSCALE

    def _terminal_spec(self, created: int, *, detail: bool = True) -> Spec:
        engine = self._engine()
        states, weights = self.terminal_mix[engine]
        state = self.rng.choices(states, cum_weights=weights)[0]
        started = max(1, created - self.rng.randint(1, 30))
        ended = started - min(self.rng.randint(45, 5 * HOUR), started - 1)
        completed = None if state == A.STOPPED else ended  # stopped keeps completed_at NULL
        exhausted = state == A.FAILED and self.rng.random() < 0.2
        attempt = self.windows.retry_budget if exhausted else 0
        target = self.rng.choice(self.targets[engine])
        return Spec(
            state, target, Kind.HISTORY, created, started, ended, completed, attempt, detail
        )

    def _random_active_spec(self) -> Spec:
        states, weights = self.active_mix
        state = self.rng.choices(states, cum_weights=weights)[0]
        engine = PLANETSCALE if state in _PLANETSCALE_ONLY else self._engine()
        if not self.free[engine]:
            return self._terminal_spec(self.rng.randint(15 * MINUTE, 2 * DAY))
        stale = self.rng.random() < 0.15
        kind = Kind.QUEUED if state == A.PENDING else Kind.STALE if stale else Kind.FRESH
        return self._active_spec(state, engine, kind)

    def _active_spec(self, state: str, engine: str, kind: Kind) -> Spec:
        # A stopped apply waiting for its start takes its target too, so the start can succeed.
        occupies = state not in TERMINAL_APPLY_STATES or kind is Kind.START_REQUESTED
        target = self.free[engine].pop() if occupies else self.rng.choice(self.targets[engine])
        updated = self._heartbeat_ago(kind)
        if kind is Kind.QUEUED:
            return Spec(state, target, kind, updated, None, updated, None)
        started = updated + self.rng.randint(2 * MINUTE, 4 * HOUR)
        created = started + self.rng.randint(1, 30)
        return Spec(state, target, kind, created, started, updated, None, self._attempt(kind))

    def _heartbeat_ago(self, kind: Kind) -> int:
        """How long ago ``updated_at`` (the heartbeat) was written, for each kind."""
        rng, windows = self.rng, self.windows
        if kind is Kind.FRESH:
            return rng.randint(1, max(1, min(9, windows.stale_after // 4)))
        if kind is Kind.STALE:
            return windows.stale_after + rng.randint(2 * MINUTE, 39 * MINUTE)
        if kind is Kind.RETRY_TOO_OLD:
            return windows.retry_freshness + rng.randint(HOUR, DAY)
        if kind in (Kind.RETRY_IN_BUDGET, Kind.RETRY_OVER_BUDGET):
            newest = max(1, min(3 * HOUR, windows.retry_freshness // 2))
            return rng.randint(min(2 * MINUTE, newest), newest)
        if kind is Kind.QUEUED:
            return rng.randint(20, 90)
        return rng.randint(HOUR, 6 * HOUR)

    def _attempt(self, kind: Kind) -> int:
        budget = self.windows.retry_budget
        if kind is Kind.RETRY_OVER_BUDGET:
            return budget + self.rng.randint(0, 2)
        if kind in (Kind.RETRY_IN_BUDGET, Kind.RETRY_TOO_OLD):
            return self.rng.randint(min(1, budget - 1), budget - 1)
        return 0

    # -- rows --

    def _add(self, batch: Batch, apply_id: int, spec: Spec) -> None:
        a = self._prepare(apply_id, spec)
        batch[Plan].append(self._plan_row(a))
        batch[Apply].append(self._apply_row(a))
        batch[ApplyOperation].append(self._operation_row(a))
        self._task_rows(a, batch[Task])
        if spec.detail:
            self._log_rows(a, batch[ApplyLog])
            self._request_rows(a, batch[ApplyControlRequest], batch[ApplyLog])

    def _prepare(self, apply_id: int, spec: Spec) -> _Apply:
        rng, db = self.rng, spec.target.database
        count = rng.choice((1, 1, 2, 3)) if spec.detail else 1
        changes = tuple(sorted(rng.sample(range(len(db.changes)), count)))
        drops = any(db.changes[i].action == DROP for i in changes)
        options = self._options(spec, allow_unsafe=drops)
        path = self._path(spec.state, spec.engine, options)
        lease = self._lease(spec)
        agos = (lease.acquired_ago, spec.started_ago, spec.completed_ago, spec.created_ago)
        failing = spec.state in (A.FAILED, A.FAILED_RETRYABLE, A.PAUSED)
        return _Apply(
            apply_id, spec,
            identifier=self._identifier("apply", spec, apply_id, _APPLY_K),
            plan_identifier=self._identifier("plan", spec, apply_id, _PLAN_K),
            changes=changes, options=options, options_json=_json(options),
            path=path, path_agos=self._path_agos(spec, len(path)),
            lease=lease, times=_Times(*map(self.clock.at, (*agos, spec.updated_ago))),
            instant=rng.random() < 0.1,
            error=rng.choice(_ERRORS[spec.engine]) if failing else None,
            pull_request=100 + apply_id // 2 + rng.randrange(40),
        )  # fmt: skip

    def _identifier(self, prefix: str, spec: Spec, n: int, multiplier: int) -> str:
        created = self.clock.epoch - spec.created_ago
        return f"{prefix}-{created:08x}{((n ^ self.salt) * multiplier) & _MASK32:08x}"

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _options(self, spec: Spec, *, allow_unsafe: bool) -> dict[str, object]:
        """ApplyOptions in Go's field order; states that need an option get it."""
        rng, state, ps = self.rng, spec.state, spec.engine == PLANETSCALE
        options: dict[str, object] = {"allow_unsafe": True} if allow_unsafe else {}
        if state in (A.WAITING_FOR_CUTOVER, A.RECOVERING) or rng.random() < 0.08:
            options["defer_cutover"] = True
        if ps and (state == A.WAITING_FOR_DEPLOY or rng.random() < 0.05):
            options["defer_deploy"] = True
        if ps and state not in (A.REVERT_WINDOW, A.REVERTED) and rng.random() < 0.2:
            options["skip_revert"] = True
        if rng.random() < 0.1:
            options["volume"] = rng.randint(1, 11)
        return options

    def _path(self, state: str, engine: str, options: dict[str, object]) -> list[str]:
        happy = _happy_path(engine, options)
        if state in happy:
            return happy[: happy.index(state) + 1]
        if state in (A.REVERTED, A.RECOVERING):
            before = A.REVERT_WINDOW if state == A.REVERTED else A.WAITING_FOR_CUTOVER
            return [*happy[: happy.index(before) + 1], state]
        # It went wrong somewhere along the happy path. A PlanetScale stop cancels a deploy
        # request, so it has one; a Spirit stop, a pause or an unknown state came after start.
        earliest = A.VALIDATING_DEPLOY_REQUEST if state == A.CANCELLED else A.RUNNING
        low = 1 if state in (A.FAILED, A.FAILED_RETRYABLE) else happy.index(earliest)
        return [*happy[: self.rng.randint(low, len(happy) - 2) + 1], state]

    @staticmethod
    def _path_agos(spec: Spec, steps: int) -> list[int]:
        # Creation, then the transitions spread evenly from the start to the last write; a
        # driver that still heartbeats entered its state well before its latest heartbeat.
        begin = spec.created_ago if spec.started_ago is None else spec.started_ago
        end = spec.updated_ago
        if spec.kind in (Kind.FRESH, Kind.STALE):
            end += (begin - end) // 4
        span, parts = begin - end, max(steps - 2, 1)
        return [spec.created_ago] + [begin - span * k // parts for k in range(steps - 1)]

    def _lease(self, spec: Spec) -> Lease:
        # Nobody clears a lease on completion, so most finished applies keep their last one.
        if spec.started_ago is None or (spec.kind is Kind.HISTORY and self.rng.random() < 0.2):
            return Lease()
        acquired = spec.started_ago
        if spec.attempt:  # re-dispatched since it started
            acquired = self.rng.randint(spec.updated_ago, spec.started_ago)
        return Lease(self.rng.choice(self.owners), self._uuid(), acquired)

    def _plan_row(self, a: _Apply) -> Row:
        spec, db = a.spec, a.spec.target.database
        created = self.clock.at(spec.created_ago + self.rng.randint(MINUTE, 2 * HOUR))
        head_sha = f"{self.rng.getrandbits(160):040x}"
        return (
            a.id, a.plan_identifier, db.name, db.database_type, spec.target.deployment, "",
            db.repository, a.pull_request, f"schema/{db.name}", spec.target.environment,
            db.schema_files, self._plan_data(db, a.changes), head_sha, created,
        )  # fmt: skip

    @staticmethod
    def _plan_data(db: Database, changes: tuple[int, ...]) -> str:
        if (cached := db.plan_data.get(changes)) is None:
            picked = (db.changes[i] for i in changes)
            tables = [
                {"namespace": db.name, "table": c.table, "ddl": c.ddl, "operation": c.action}
                for c in picked
            ]
            cached = db.plan_data[changes] = _json({db.name: {"tables": tables}})
        return cached

    def _apply_row(self, a: _Apply) -> Row:
        spec, db, target = a.spec, a.spec.target.database, a.spec.target
        by_pr = self.rng.random() < 0.9
        caller = f"{db.repository}#{a.pull_request}" if by_pr else f"cli:{self.rng.choice(PEOPLE)}"
        installation = 48_000_000 + REPOSITORIES.index(db.repository) if by_pr else 0
        return (
            a.id, a.identifier, db.lock_id, a.id, db.name, db.database_type, db.repository,
            a.pull_request, target.environment, target.deployment, caller, installation, "",
            spec.engine, spec.state, a.error, a.options_json, spec.attempt, a.lease.owner,
            a.lease.token, *a.times,
        )  # fmt: skip

    def _operation_row(self, a: _Apply) -> Row:
        """The apply's one operation: same state and heartbeat, its own lease token."""
        spec = a.spec
        token = self._uuid() if a.lease.token else ""
        metadata = self._resume_metadata(a) if spec.engine == PLANETSCALE else None
        context = a.identifier if metadata else None
        on_failure = ON_FAILURE_PAUSE if spec.state == A.PAUSED else ON_FAILURE_HALT
        return (
            a.id, a.id, spec.target.deployment, "", context, metadata, spec.state, a.error,
            CUTOVER_ROLLING, on_failure, a.lease.owner, token, *a.times,
        )  # fmt: skip

    def _resume_metadata(self, a: _Apply) -> str | None:
        """PlanetScale's persisted resume state at the furthest phase the apply reached (§4.3).

        Shaped as Go's json.Marshal writes psMetadata: ``deploy_request_id`` is always there (0
        until a deploy request exists); the URL, ``deployed_at``, ``is_instant`` and
        ``deferred_deploy`` are omitted while empty.
        """
        if A.PREPARING_BRANCH not in a.path:
            return None
        db = a.spec.target.database
        meta: dict[str, object] = {
            "branch_name": branch_name(db.name, a.plan_identifier),
            "deploy_request_id": 0,
        }
        if A.VALIDATING_DEPLOY_REQUEST in a.path:
            db.deploy_requests += 1
            meta["deploy_request_id"] = db.deploy_requests
            meta["deploy_request_url"] = (
                f"https://app.planetscale.com/{ORG}/{db.name}/deploy-requests/{db.deploy_requests}"
            )
        if A.RUNNING in a.path:
            meta["deployed_at"] = self.clock.rfc3339(a.path_agos[a.path.index(A.RUNNING)])
        if A.VALIDATING_DEPLOY_REQUEST in a.path:  # both are known once the DR exists
            if a.instant:
                meta["is_instant"] = True
            if a.options.get("defer_deploy"):
                meta["deferred_deploy"] = True
        return _json(meta)

    def _task_rows(self, a: _Apply, rows: list[Row]) -> None:
        spec, db, times = a.spec, a.spec.target.database, a.times
        deployed = spec.engine == PLANETSCALE and A.RUNNING in a.path
        for position, index in enumerate(a.changes):
            change, state = db.changes[index], _task_state(spec.state, position)
            instant = a.instant or change.action != ALTER
            copied, total, percent, eta = self._progress(state, instant=instant)
            started = None if state in _NOT_STARTED else times.started
            done = state in TERMINAL_TASK_STATES
            completed = (times.completed or times.updated) if done else None
            error = a.error if state in (T.FAILED, T.FAILED_RETRYABLE) else None
            migration = self._uuid().replace("-", "_") if deployed else None
            task_id, self.next_task = self.next_task, self.next_task + 1
            rows.append((
                task_id, self._identifier("task", spec, task_id, _TASK_K), a.id, a.id, a.id,
                db.name, db.database_type, db.name, change.table, change.ddl, change.action,
                spec.engine, db.repository, a.pull_request, spec.target.environment, state, error,
                a.options_json, spec.attempt, copied, total, percent, eta, int(instant),
                int(state == T.WAITING_FOR_CUTOVER), migration, started, completed,
                times.created, times.updated,
            ))  # fmt: skip

    def _progress(self, state: T, *, instant: bool) -> tuple[int, int, int, int | None]:
        """rows_copied, rows_total, progress_percent, eta_seconds."""
        if instant:  # instant DDL, CREATE and DROP copy no rows
            return 0, 0, 100 if state in _COPY_DONE else 0, None
        total = int(10 ** self.rng.uniform(3, 8.7))
        if state in _COPY_DONE:
            return total, total, 100, None
        if state in _NOT_STARTED:
            return 0, total, 0, None
        copied = int(total * self.rng.uniform(0.02, 0.97))
        eta = (total - copied) // self.rng.randint(2_000, 60_000) if state == T.RUNNING else None
        return copied, total, copied * 100 // total, eta

    def _log_rows(self, a: _Apply, rows: list[Row]) -> None:
        for step in range(1, len(a.path)):
            old, new = a.path[step - 1], a.path[step]
            level = LEVEL_INFO
            if new in (A.FAILED, A.FAILED_RETRYABLE):
                level = LEVEL_ERROR
            elif new in (A.PAUSED, A.STOPPED, A.CANCELLED):
                level = LEVEL_WARN
            message = f"State changed from {old} to {new}"
            rows.append(
                self._log(a.id, level, STATE_TRANSITION, message, a.path_agos[step], old, new)
            )

    def _log(
        self,
        apply_id: int,
        level: str,
        event: str,
        message: str,
        ago: int,
        old: str | None = None,
        new: str | None = None,
    ) -> Row:
        log_id, self.next_log = self.next_log, self.next_log + 1
        at = self.clock.at(ago)
        return (log_id, apply_id, None, level, event, SOURCE, message, old, new, None, at)

    def _request_rows(self, a: _Apply, requests: list[Row], logs: list[Row]) -> None:
        at = self.clock.at
        for operation, status, created, completed, error in self._requests(a):
            who = self.rng.choice(PEOPLE)
            updated = created if completed is None else completed
            requests.append((
                self.next_request, a.id, operation, status, who, error, "{}", at(completed),
                at(created), at(updated),
            ))  # fmt: skip
            self.next_request += 1
            message = f"{operation} requested by {who}"
            logs.append(self._log(a.id, LEVEL_INFO, f"{operation}_requested", message, created))

    def _requests(self, a: _Apply) -> list[tuple[str, str, int, int | None, str | None]]:
        """Control requests as (operation, status, created ago, completed ago, error)."""
        spec, rng = a.spec, self.rng
        requests: list[tuple[str, str, int, int | None, str | None]] = []
        if spec.state in (A.STOPPED, A.CANCELLED):
            asked = spec.updated_ago + rng.randint(5, 120)
            requests.append((STOP, REQUEST_COMPLETED, asked, spec.updated_ago, None))
        if spec.kind is Kind.START_REQUESTED:
            requests.append((START, REQUEST_PENDING, rng.randint(20, 90), None, None))
        elif spec.state == A.STOPPED and spec.kind is Kind.HISTORY and rng.random() < 0.2:
            t = spec.target
            error = (
                "start refused: another active apply exists for "
                f"{t.database.name}/{t.database.database_type}/{t.environment}"
            )
            ago = max(1, spec.updated_ago - rng.randint(MINUTE, HOUR))
            requests.append((START, REQUEST_FAILED, ago, ago, error))
        elif a.options.get("defer_deploy") and A.RUNNING in a.path:
            deployed = a.path_agos[a.path.index(A.RUNNING)]
            requests.append((START, REQUEST_COMPLETED, deployed + 30, deployed, None))
        return requests
