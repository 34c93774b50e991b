"""Admins of SchemaBot's other tables: operations, tasks, logs, control requests, locks, plans
(the applies' own is ``applies.admin.apply``).

All read-only (see ``applies.admin.base``). Lists filter only on indexed columns
(``applies.admin.filters``) and order by primary key.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from applies.admin.base import SchemaBotAdmin
from applies.admin.displays import with_heartbeat
from applies.admin.filters import choice_filter, labels, state_filter
from applies.models import ApplyControlRequest, ApplyLog, ApplyOperation, Lock, Plan, Task
from applies.vocabulary import LogEvent, LogLevel, RequestStatus

APPLY_SEARCH = ("=apply__apply_identifier",)


@admin.register(ApplyOperation)
class ApplyOperationAdmin(SchemaBotAdmin):
    list_display = (
        "id",
        "apply_link",
        "deployment",
        "state_badge",
        "cutover_policy",
        "on_failure",
        "lease_owner",
        "heartbeat",
    )
    list_filter = (state_filter(),)  # idx_state_created_id
    search_fields = APPLY_SEARCH
    ordering = ("-id",)
    fields = (
        "apply_link",
        ("deployment", "target"),
        "state_badge",
        "error",
        ("cutover_policy", "on_failure"),
        ("lease_owner", "lease"),
        "lease_acquired_at",
        ("updated_at", "heartbeat"),
        ("created_at", "started_at", "completed_at"),
        "engine_resume_context",
        "resume_metadata",
    )
    readonly_fields = (
        "apply_link",
        "state_badge",
        "error",
        "lease",
        "heartbeat",
        "resume_metadata",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_heartbeat(super().get_queryset(request))


@admin.register(Task)
class TaskAdmin(SchemaBotAdmin):
    list_display = (
        "task_identifier",
        "apply_link",
        "namespace",
        "table_name",
        "ddl_action",
        "state_badge",
        "engine",
        "progress_percent",
        "updated_at",
    )
    list_filter = (state_filter(tasks=True),)  # idx_state
    search_fields = ("=task_identifier", *APPLY_SEARCH)
    ordering = ("-id",)
    fields = (
        "task_identifier",
        ("apply_link", "operation", "plan_id"),
        ("database_name", "database_type", "namespace", "table_name"),
        ("engine", "environment"),
        ("repository", "pull_request"),
        "state_badge",
        "error",
        ("ddl_action", "engine_migration_id"),
        "ddl",
        ("attempt", "progress_percent", "rows_copied", "rows_total", "eta_seconds"),
        ("is_instant", "ready_to_complete"),
        ("created_at", "started_at", "completed_at", "updated_at"),
        "options_pretty",
    )
    readonly_fields = (
        "apply_link",
        "operation",
        "plan_id",
        "state_badge",
        "error",
        "options_pretty",
    )


@admin.register(ApplyLog)
class ApplyLogAdmin(SchemaBotAdmin):
    """Append-only: rows are written by SchemaBot and by ternadmin's services, never here."""

    list_display = (
        "created_at",
        "apply_link",
        "level",
        "event_type",
        "source",
        "transition",
        "text",
    )
    list_filter = (
        choice_filter("level", "level", labels(LogLevel)),  # idx_level
        choice_filter("event_type", "event", labels(LogEvent)),  # idx_event_type
    )
    search_fields = APPLY_SEARCH
    ordering = ("-id",)
    fields = (
        ("apply_link", "task_id"),
        ("created_at", "level", "event_type", "source"),
        "transition",
        "text",
        "metadata_pretty",
    )
    readonly_fields = ("apply_link", "task_id", "transition", "text", "metadata_pretty")


@admin.register(ApplyControlRequest)
class ApplyControlRequestAdmin(SchemaBotAdmin):
    list_display = (
        "id",
        "apply_link",
        "operation",
        "status",
        "requested_by",
        "created_at",
        "updated_at",
        "completed_at",
    )
    list_filter = (
        choice_filter("status", "status", labels(RequestStatus)),  # idx_..._status
    )
    search_fields = APPLY_SEARCH
    ordering = ("-id",)
    fields = (
        "apply_link",
        ("operation", "status", "requested_by"),
        "error",
        ("created_at", "updated_at", "completed_at"),
        "metadata_pretty",
    )
    readonly_fields = ("apply_link", "error", "metadata_pretty")


@admin.register(Lock)
class LockAdmin(SchemaBotAdmin):
    list_display = (
        "id",
        "database_name",
        "database_type",
        "repository",
        "pull_request",
        "owner",
        "created_at",
    )
    search_fields = ("=database_name", "=repository")  # idx_database, idx_repo_pr
    ordering = ("-id",)
    fields = (
        ("database_name", "database_type"),
        ("repository", "pull_request"),
        ("owner", "pending_plan_id"),
        ("created_at", "updated_at"),
    )


@admin.register(Plan)
class PlanAdmin(SchemaBotAdmin):
    list_display = (
        "plan_identifier",
        "database_name",
        "database_type",
        "environment",
        "deployment",
        "repository",
        "pull_request",
        "created_at",
    )
    search_fields = ("=plan_identifier", "=database_name")  # idx_plan_identifier, idx_database_env
    ordering = ("-id",)
    fields = (
        "plan_identifier",
        ("database_name", "database_type", "environment"),
        ("deployment", "target", "schema_path"),
        ("repository", "pull_request", "head_sha"),
        "created_at",
        "schema_files_pretty",
        "plan_data_pretty",
    )
    readonly_fields = ("schema_files_pretty", "plan_data_pretty")
