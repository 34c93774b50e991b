"""SchemaBot's storage tables (schema at SchemaBot b2349ea; docs/schemabot.md, "Tables").

Column names, types, nullability and defaults follow SchemaBot's DDL. The models are unmanaged:
Django's migrations never touch these tables. In standalone mode ``applies.schema`` creates them
(with the indexes in ``table_indexes``); in attach mode SchemaBot has created them and ternadmin
only verifies they are there. Columns that a newer SchemaBot adds are simply not selected.

Relations are ``ForeignKey(db_constraint=False)``: SchemaBot declares no foreign keys, so a
child row may point at nothing, and nothing cascades.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from django.db import models

from applies.dbclock import DbNow
from applies.fields import (
    HeartbeatField,
    SecondsDateTimeField,
    TextColumn,
    UnsignedAutoField,
    UnsignedIntegerField,
)
from applies.redact import redact
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
        # Django admin prints this in page titles and inline rows. Masked before it is cut:
        # cut first, a DSN would lose its '@' and the start of its password go unmasked.
        return f"{self.event_type}: {redact(self.message)[:60]}"


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
