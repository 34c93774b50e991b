"""Writing the generated rows: the column layout of each SchemaBot table, the chunked bulk
INSERT, and the reset that empties the tables first."""

from __future__ import annotations

from collections import Counter

from django.core.management.color import no_style
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

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

Row = tuple[str | int | None, ...]  # what a raw INSERT sends: text, numbers, NULL
Batch = dict[type[SchemaBotTable], list[Row]]

# The columns each generated row fills, in its order; the tables in insert order (parents first).
COLUMNS: dict[type[SchemaBotTable], tuple[str, ...]] = {
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


def empty_batch() -> Batch:
    """Room for one chunk of applies and their children (locks are written once, up front)."""
    return {model: [] for model in COLUMNS if model is not Lock}


def empty_tables(connection: BaseDatabaseWrapper) -> None:
    tables = [model._meta.db_table for model in SCHEMABOT_MODELS]
    # On MySQL, reset_sequences makes this TRUNCATE: a DELETE of a million InnoDB rows takes
    # minutes. TRUNCATE commits implicitly, so inside a transaction (a test) it stays DELETE.
    truncate = connection.vendor == "mysql" and not connection.in_atomic_block
    sql = connection.ops.sql_flush(no_style(), tables, reset_sequences=truncate)
    connection.ops.execute_sql_flush(sql)


def write(connection: BaseDatabaseWrapper, batch: Batch, counts: Counter[str]) -> None:
    """Insert one chunk in one transaction; mysqlclient turns executemany into multi-row INSERTs."""
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for model, rows in batch.items():
            if not rows:
                continue
            columns = COLUMNS[model]
            table = model._meta.db_table
            placeholders = ", ".join(["%s"] * len(columns))
            sql = (
                f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) "
                f"VALUES ({placeholders})"
            )
            cursor.executemany(sql, rows)
            counts[table] += len(rows)
