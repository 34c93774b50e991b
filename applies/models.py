"""SchemaBot's storage tables (schema at SchemaBot b2349ea; docs/schemabot.md, "Tables").

Column names, types, nullability and defaults follow SchemaBot's DDL. The models are unmanaged:
Django's migrations never touch these tables. In standalone mode ``applies.schema`` creates them
(with the indexes in ``table_indexes``); in attach mode SchemaBot has created them and ternadmin
only verifies they are there. Columns that a newer SchemaBot adds are simply not selected.

Relations are ``ForeignKey(db_constraint=False)``: SchemaBot declares no foreign keys, so a
child row may point at nothing, and nothing cascades.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from django.conf import settings
from django.db import models

from applies.dbclock import DbNow
from applies.fields import (
    HeartbeatField,
    SecondsDateTimeField,
    TextColumn,
    UnsignedAutoField,
    UnsignedIntegerField,
)
from applies.states import ApplyState
from applies.vocabulary import CutoverPolicy, OnFailure

# SchemaBot's column defaults, spelled by the registry and the vocabulary.
_PENDING = ApplyState.PENDING.value
_ROLLING, _HALT = CutoverPolicy.ROLLING.value, OnFailure.HALT.value


class TableIndex(NamedTuple):
    """A secondary index exactly as SchemaBot names it."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False


def _created_at() -> SecondsDateTimeField:
    return SecondsDateTimeField(db_default=DbNow())


def _heartbeat() -> HeartbeatField:
    return HeartbeatField(db_default=DbNow())


def _relation(to: str, column: str, *, null: bool = False, related_name: str = "+") -> models.Field:
    return models.ForeignKey(
        to,
        db_column=column,
        db_constraint=False,
        db_index=False,  # SchemaBot's own indexes are declared in table_indexes
        on_delete=models.DO_NOTHING,
        null=null,
        blank=null,
        related_name=related_name,
    )


class SchemaBotTable(models.Model):
    """Base of every model that lives in SchemaBot's database (see ``ternadmin.routers``)."""

    objects: ClassVar[models.Manager[Any]]
    lives_in_schemabot: ClassVar[bool] = True
    table_indexes: ClassVar[tuple[TableIndex, ...]] = ()

    class Meta:
        abstract = True


class Lock(SchemaBotTable):
    """PR-level database lock (not the apply target lock, which is a MySQL named lock)."""

    id = UnsignedAutoField(primary_key=True)
    database_name = models.CharField(max_length=255)
    database_type = models.CharField(max_length=50)
    repository = models.CharField(max_length=255)
    pull_request = UnsignedIntegerField()
    owner = models.CharField(max_length=255)
    pending_plan_id = models.CharField(max_length=255, default="", db_default="", blank=True)
    created_at = _created_at()
    updated_at = _heartbeat()

    table_indexes = (
        # The INSERT is the race arbiter: one lock per database.
        TableIndex("idx_database", ("database_name", "database_type"), unique=True),
        # Locks held by a pull request.
        TableIndex("idx_repo_pr", ("repository", "pull_request")),
    )

    class Meta:
        managed = False
        db_table = "locks"

    def __str__(self) -> str:
        return (
            f"{self.database_name} ({self.database_type}) by {self.repository}#{self.pull_request}"
        )


class Plan(SchemaBotTable):
    id = UnsignedAutoField(primary_key=True)
    plan_identifier = models.CharField(max_length=255)
    database_name = models.CharField(max_length=255)
    database_type = models.CharField(max_length=50)
    deployment = models.CharField(max_length=255, default="", db_default="", blank=True)
    target = models.CharField(max_length=255, default="", db_default="", blank=True)
    repository = models.CharField(max_length=255)
    pull_request = UnsignedIntegerField()
    schema_path = models.CharField(max_length=1024, default="", db_default="", blank=True)
    environment = models.CharField(max_length=50, default="", db_default="", blank=True)
    schema_files = models.JSONField()
    plan_data = models.JSONField()
    head_sha = models.CharField(max_length=64, default="", db_default="", blank=True)
    created_at = _created_at()

    table_indexes = (
        TableIndex("idx_plan_identifier", ("plan_identifier",), unique=True),
        TableIndex("idx_repo_pr", ("repository", "pull_request")),
        TableIndex("idx_database_env", ("database_name", "database_type", "environment")),
    )

    class Meta:
        managed = False
        db_table = "plans"

    def __str__(self) -> str:
        return self.plan_identifier


class Apply(SchemaBotTable):
    """One schema change. ``updated_at`` is the driver's heartbeat; the lease is owner + token."""

    id = UnsignedAutoField(primary_key=True)
    apply_identifier = models.CharField(max_length=255)
    lock = _relation("applies.Lock", "lock_id")
    plan = _relation("applies.Plan", "plan_id")
    database_name = models.CharField(max_length=255)
    database_type = models.CharField(max_length=50)
    repository = models.CharField(max_length=255)
    pull_request = UnsignedIntegerField()
    environment = models.CharField(max_length=50)
    deployment = models.CharField(max_length=255, default="", db_default="", blank=True)
    caller = models.CharField(max_length=255, default="", db_default="", blank=True)
    installation_id = models.BigIntegerField(default=0, db_default=0)
    external_id = models.CharField(max_length=255, default="", db_default="", blank=True)
    engine = models.CharField(max_length=50)
    state = models.CharField(max_length=100)
    error_message = TextColumn(null=True, blank=True)
    options = models.JSONField(default=dict)
    attempt = models.IntegerField(default=0, db_default=0)
    lease_owner = models.CharField(max_length=255, default="", db_default="", blank=True)
    lease_token = models.CharField(max_length=64, default="", db_default="", blank=True)
    lease_acquired_at = SecondsDateTimeField(null=True, blank=True)
    started_at = SecondsDateTimeField(null=True, blank=True)
    completed_at = SecondsDateTimeField(null=True, blank=True)
    created_at = _created_at()
    updated_at = _heartbeat()

    table_indexes = (
        TableIndex("idx_apply_identifier", ("apply_identifier",), unique=True),
        TableIndex("idx_lock_id", ("lock_id",)),
        TableIndex("idx_plan_id", ("plan_id",)),
        TableIndex("idx_database_env", ("database_name", "database_type", "environment")),
        # One-active-apply-per-target check (docs/schemabot.md, "The target lock").
        TableIndex(
            "idx_database_env_deployment",
            ("database_name", "database_type", "environment", "deployment"),
        ),
        TableIndex("idx_repo_pr", ("repository", "pull_request")),
        # Newest-first listing and keyset pagination over all applies.
        TableIndex("idx_created_id", ("created_at", "id")),
        TableIndex("idx_environment_created_id", ("environment", "created_at", "id")),
        # Claim candidates per state, oldest first; listing filtered by state.
        TableIndex("idx_state_created_id", ("state", "created_at", "id")),
        TableIndex(
            "idx_environment_state_created_id", ("environment", "state", "created_at", "id")
        ),
        TableIndex("idx_completed_at_state", ("completed_at", "state")),
    )

    class Meta:
        managed = False
        db_table = "applies"
        verbose_name_plural = "applies"
        permissions = [
            ("operate_apply", "Can run recovery actions (reclaim, request stop/start)"),
            ("fix_apply_state", "Can fix an apply's state by hand"),
        ]

    def __str__(self) -> str:
        return self.apply_identifier


class ApplyOperation(SchemaBotTable):
    """Per-(apply, deployment) child; the unit the operation-level claim loop leases."""

    id = UnsignedAutoField(primary_key=True)
    apply = _relation("applies.Apply", "apply_id", related_name="operations")
    deployment = models.CharField(max_length=255)
    target = models.CharField(max_length=255, default="", db_default="", blank=True)
    engine_resume_context = models.CharField(max_length=255, null=True, blank=True)
    engine_resume_metadata = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=100, default=_PENDING, db_default=_PENDING)
    error_message = TextColumn(null=True, blank=True)
    cutover_policy = models.CharField(max_length=16, default=_ROLLING, db_default=_ROLLING)
    on_failure = models.CharField(max_length=16, default=_HALT, db_default=_HALT)
    lease_owner = models.CharField(max_length=255, default="", db_default="", blank=True)
    lease_token = models.CharField(max_length=64, default="", db_default="", blank=True)
    lease_acquired_at = SecondsDateTimeField(null=True, blank=True)
    started_at = SecondsDateTimeField(null=True, blank=True)
    completed_at = SecondsDateTimeField(null=True, blank=True)
    created_at = _created_at()
    updated_at = _heartbeat()

    table_indexes = (
        # An apply's operations (and the one-row-per-deployment rule).
        TableIndex("idx_apply_operation", ("apply_id", "deployment"), unique=True),
        TableIndex("idx_deployment_state", ("deployment", "state")),
        # Operation claim candidates per state, oldest first.
        TableIndex("idx_state_created_id", ("state", "created_at", "id")),
    )

    class Meta:
        managed = False
        db_table = "apply_operations"

    def __str__(self) -> str:
        return f"operation {self.pk} ({self.deployment})"


class Task(SchemaBotTable):
    """One table change of an apply."""

    id = UnsignedAutoField(primary_key=True)
    task_identifier = models.CharField(max_length=255)
    apply = _relation("applies.Apply", "apply_id", related_name="tasks")
    apply_operation = _relation(
        "applies.ApplyOperation", "apply_operation_id", null=True, related_name="tasks"
    )
    plan = _relation("applies.Plan", "plan_id")
    database_name = models.CharField(max_length=255)
    database_type = models.CharField(max_length=50)
    namespace = models.CharField(max_length=255, default="", db_default="", blank=True)
    table_name = models.CharField(max_length=255, null=True, blank=True)
    ddl = TextColumn(null=True, blank=True)
    ddl_action = models.CharField(max_length=50, null=True, blank=True)
    engine = models.CharField(max_length=50)
    repository = models.CharField(max_length=255)
    pull_request = UnsignedIntegerField()
    environment = models.CharField(max_length=50)
    state = models.CharField(max_length=100)
    error_message = TextColumn(null=True, blank=True)
    options = models.JSONField(null=True, blank=True)
    attempt = models.IntegerField(default=0, db_default=0)
    rows_copied = models.BigIntegerField(null=True, default=0, db_default=0)
    rows_total = models.BigIntegerField(null=True, default=0, db_default=0)
    progress_percent = models.IntegerField(null=True, default=0, db_default=0)
    eta_seconds = models.IntegerField(null=True, blank=True)
    is_instant = models.BooleanField(null=True, default=False, db_default=False)
    ready_to_complete = models.BooleanField(null=True, default=False, db_default=False)
    engine_migration_id = models.CharField(max_length=255, null=True, blank=True)
    started_at = SecondsDateTimeField(null=True, blank=True)
    completed_at = SecondsDateTimeField(null=True, blank=True)
    created_at = _created_at()
    updated_at = _heartbeat()

    table_indexes = (
        TableIndex("idx_task_identifier", ("task_identifier",), unique=True),
        # An apply's tasks; the queued-pending claim clause's EXISTS.
        TableIndex("idx_apply_id", ("apply_id",)),
        TableIndex("idx_apply_operation_id", ("apply_operation_id",)),
        TableIndex("idx_database", ("database_name",)),
        TableIndex("idx_repo_pr", ("repository", "pull_request")),
        TableIndex("idx_state", ("state",)),
    )

    class Meta:
        managed = False
        db_table = "tasks"

    def __str__(self) -> str:
        return self.task_identifier


class ApplyLog(SchemaBotTable):
    """Append-only audit trail of an apply."""

    id = UnsignedAutoField(primary_key=True)
    apply = _relation("applies.Apply", "apply_id", related_name="logs")
    task = _relation("applies.Task", "task_id", null=True)
    level = models.CharField(max_length=20, default="info", db_default="info")
    event_type = models.CharField(max_length=100)
    source = models.CharField(max_length=100, default="schemabot", db_default="schemabot")
    message = TextColumn()
    old_state = models.CharField(max_length=100, null=True, blank=True)
    new_state = models.CharField(max_length=100, null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    created_at = _created_at()

    table_indexes = (
        # An apply's timeline, in order.
        TableIndex("idx_apply_created", ("apply_id", "created_at")),
        TableIndex("idx_task_id", ("task_id",)),
        TableIndex("idx_level", ("level",)),
        TableIndex("idx_event_type", ("event_type",)),
    )

    class Meta:
        managed = False
        db_table = "apply_logs"

    def __str__(self) -> str:
        return f"{self.event_type}: {self.message[:60]}"


class ApplyControlRequest(SchemaBotTable):
    """Durable user intent (start/stop/cutover/…); one row per (apply, operation), reused."""

    id = UnsignedAutoField(primary_key=True)
    apply = _relation("applies.Apply", "apply_id", related_name="control_requests")
    operation = models.CharField(max_length=50)
    status = models.CharField(max_length=50)
    requested_by = models.CharField(max_length=255, default="", db_default="", blank=True)
    error_message = TextColumn(null=True, blank=True)
    metadata = models.JSONField(default=dict)
    completed_at = SecondsDateTimeField(null=True, blank=True)
    created_at = _created_at()
    updated_at = _heartbeat()

    table_indexes = (
        TableIndex(
            "idx_apply_control_request_apply_operation", ("apply_id", "operation"), unique=True
        ),
        # Pending requests, oldest first.
        TableIndex("idx_apply_control_request_status", ("status", "created_at")),
    )

    class Meta:
        managed = False
        db_table = "apply_control_requests"

    def __str__(self) -> str:
        return f"{self.operation} ({self.status})"


SCHEMABOT_MODELS: tuple[type[SchemaBotTable], ...] = (
    Lock,
    Plan,
    Apply,
    ApplyOperation,
    Task,
    ApplyLog,
    ApplyControlRequest,
)


# --- ternadmin's own tables (in the ``default`` database) -------------------------------------


class SweepRun(models.Model):
    """One pass of the reclaim sweep: what it found and did, for the console and /metrics."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=255)
    dry_run = models.BooleanField(default=False)
    ok = models.BooleanField(default=False)
    claimed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    wedged = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    brake_engaged = models.BooleanField(default=False)
    duration_s = models.FloatField(default=0.0)
    report = models.JSONField(default=dict)

    class Meta:
        # Latest passes first (dashboard, metrics), and pruning by age.
        indexes = [models.Index(fields=["-started_at"], name="sweeprun_started")]

    def __str__(self) -> str:
        return f"sweep by {self.owner} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Brake(models.Model):
    """The mass-staleness brake: one row; while engaged the sweep claims nothing."""

    engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True, default="")
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return "brake engaged" if self.engaged else "brake released"


class Drive(models.Model):
    """One recovery drive of a claimed apply, from claim to end state or lease loss.

    A drive is a row, not a process: it records the claim (the lease tokens it drives under)
    and its schedule. The drive loops (``applies.drives.loops``) take the most overdue due row,
    hold it for one step (``held_by``/``held_until``, renewed while the step runs, so a step
    whose worker died is taken again once the hold expires), run one step of its driver and
    write when the next one is due. ``steps`` is the step sequence: a take moves it on, and a
    step's outcome is written only while it is still the step that was taken (a late or
    duplicate step writes nothing). A foreground drive (``recover``, inline mode) runs its
    steps in one process instead and is never taken by a loop.
    """

    class Outcome(models.TextChoices):
        QUEUED = "queued"  # manual mode: recorded, waiting for `manage.py drive <id>`
        RUNNING = "running"
        COMPLETED = "completed"  # reached an end state
        LEASE_LOST = "lease_lost"
        FAILED = "failed"  # the driver failed the apply with a clear error
        ERROR = "error"  # the drive gave up; the apply stays claimable once stale

    class Runner(models.TextChoices):
        LOOPS = "loops"  # stepped by the drive loops on the scheduler's workers
        FOREGROUND = "foreground"  # stepped by one process (recover, inline, manual)

    apply_id = models.PositiveBigIntegerField()
    apply_identifier = models.CharField(max_length=255)
    engine = models.CharField(max_length=50, blank=True, default="")
    owner = models.CharField(max_length=255)
    lease_token = models.CharField(max_length=64)
    # The operation row leased with the apply on the operation-level path; its heartbeat is
    # refreshed with the apply's (SchemaBot drives heartbeat the operation rows they hold).
    operation_id = models.PositiveBigIntegerField(null=True, blank=True)
    operation_lease_token = models.CharField(max_length=64, blank=True, default="")
    trigger = models.CharField(max_length=32)  # sweep, console, command
    requested_by = models.CharField(max_length=255, blank=True, default="")
    clause = models.CharField(max_length=64, blank=True, default="")
    claimed_state = models.CharField(max_length=100, blank=True, default="")
    end_state = models.CharField(max_length=100, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.QUEUED)
    runner = models.CharField(max_length=16, choices=Runner.choices, default=Runner.LOOPS)
    message = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The schedule (database clock, ternadmin's database): when the next step is due, which
    # runner holds the drive for the step running now and until when.
    next_due_at = models.DateTimeField(null=True, blank=True)
    held_by = models.CharField(max_length=255, blank=True, default="")
    held_until = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)
    last_step_at = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            # Recent drives on the dashboard; an apply's drives on its page.
            models.Index(fields=["-started_at"], name="drive_started"),
            models.Index(fields=["apply_id", "-started_at"], name="drive_apply"),
            # The loops' take ("running, due by now, oldest due first") and the heartbeat's
            # "every running drive", without reading finished history.
            models.Index(fields=["outcome", "next_due_at"], name="drive_due"),
        ]

    def __str__(self) -> str:
        return f"drive of {self.apply_identifier} ({self.outcome})"


class DriveLoop(models.Model):
    """One drive-loop slot: ``TERNADMIN_DRIVE_LOOPS`` rows bound how many loops run at once.

    A loop is a django-q2 task for (slot, generation). It takes the slot by writing its
    ``holder`` (only one delivery of a generation wins: the broker may deliver twice), proves
    it lives by pushing ``alive_until`` on, and ends by handing the slot to the next generation
    and enqueueing it. A slot whose ``alive_until`` passed (its worker was killed, its task was
    lost) is re-enqueued as a new generation by the sweep or a live loop; a late delivery of
    an old generation then finds the slot moved on and exits.
    """

    slot = models.PositiveIntegerField(primary_key=True)
    generation = models.PositiveIntegerField(default=0)
    holder = models.CharField(max_length=255, blank=True, default="")  # "" while enqueued
    alive_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)  # steps run by this generation

    def __str__(self) -> str:
        return f"drive loop {self.slot} (generation {self.generation})"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only the SHA-256 of the token is stored: the token
    itself is shown once, by ``manage.py create_api_token``, and cannot be read back.

    A token works until it is revoked (``manage.py api_tokens revoke``, or the admin) or its
    optional expiry passes; the row stays, so who had which token, and until when, is kept.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    key_hash = models.CharField(max_length=64, unique=True)  # the lookup on every API call
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token {self.name or self.pk} of {self.user}"

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
