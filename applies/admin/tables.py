"""Admins of SchemaBot's other tables: operations, tasks, logs, control requests, locks, plans.

All read-only (see ``applies.admin.base``). Lists filter only on indexed columns, with choices
from the vocabulary rather than a ``SELECT DISTINCT`` over the table, and order by primary key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from applies import states
from applies.admin.apply import with_heartbeat
from applies.admin.base import (
    SchemaBotAdmin,
    age,
    apply_badge,
    link_to_apply,
    link_to_operation,
    pretty_json,
    safe_text,
    task_badge,
)
from applies.models import ApplyControlRequest, ApplyLog, ApplyOperation, Lock, Plan, Task
from applies.redact import short_token
from applies.vocabulary import LogEvent, LogLevel, RequestStatus

APPLY_SEARCH = ("=apply__apply_identifier",)


def choice_filter(column: str, title: str, choices: Iterable[tuple[str, str]]) -> type:
    """A list filter on ``column`` whose choices are fixed: no query to list them."""
    options = list(choices)

    class ChoiceFilter(admin.SimpleListFilter):
        parameter_name = column

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return options

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            value = self.value()
            return queryset.filter(**{column: value}) if value else queryset

    ChoiceFilter.title = title
    return ChoiceFilter


def _labels(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value.replace("_", " ")) for value in values]


APPLY_STATE_CHOICES = [(info.value, info.label) for info in states.APPLY_STATES.values()]
TASK_STATE_CHOICES = [(info.value, info.label) for info in states.TASK_STATES.values()]


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
    list_filter = (choice_filter("state", "state", APPLY_STATE_CHOICES),)  # idx_state_created_id
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

    @admin.display(description="apply")
    def apply_link(self, obj: ApplyOperation) -> SafeString | str:
        return link_to_apply(obj.apply_id)

    @admin.display(description="state")
    def state_badge(self, obj: ApplyOperation) -> SafeString:
        return apply_badge(obj.state)

    @admin.display(description="error")
    def error(self, obj: ApplyOperation) -> str:
        return safe_text(obj.error_message)

    @admin.display(description="lease token")
    def lease(self, obj: ApplyOperation) -> str:
        return short_token(obj.lease_token) or "-"

    @admin.display(description="heartbeat (DB clock)")
    def heartbeat(self, obj: ApplyOperation) -> str:
        return age(getattr(obj, "heartbeat_age", None))

    @admin.display(description="engine resume metadata")
    def resume_metadata(self, obj: ApplyOperation) -> SafeString:
        return pretty_json(obj.engine_resume_metadata)


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
    list_filter = (choice_filter("state", "state", TASK_STATE_CHOICES),)  # idx_state
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

    @admin.display(description="apply")
    def apply_link(self, obj: Task) -> SafeString | str:
        return link_to_apply(obj.apply_id)

    @admin.display(description="operation")
    def operation(self, obj: Task) -> SafeString | str:
        return link_to_operation(obj.apply_operation_id)

    @admin.display(description="state")
    def state_badge(self, obj: Task) -> SafeString:
        return task_badge(obj.state)

    @admin.display(description="error")
    def error(self, obj: Task) -> str:
        return safe_text(obj.error_message)

    @admin.display(description="options")
    def options_pretty(self, obj: Task) -> SafeString:
        return pretty_json(obj.options)


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
        choice_filter("level", "level", _labels(LogLevel)),  # idx_level
        choice_filter("event_type", "event", _labels(LogEvent)),  # idx_event_type
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

    @admin.display(description="apply")
    def apply_link(self, obj: ApplyLog) -> SafeString | str:
        return link_to_apply(obj.apply_id)

    @admin.display(description="old → new")
    def transition(self, obj: ApplyLog) -> str:
        if not (obj.old_state or obj.new_state):
            return "-"
        return f"{obj.old_state or '-'} → {obj.new_state or '-'}"

    @admin.display(description="message")
    def text(self, obj: ApplyLog) -> str:
        return safe_text(obj.message)

    @admin.display(description="metadata")
    def metadata_pretty(self, obj: ApplyLog) -> SafeString:
        return pretty_json(obj.metadata)


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
        choice_filter("status", "status", _labels(RequestStatus)),  # idx_..._status
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

    @admin.display(description="apply")
    def apply_link(self, obj: ApplyControlRequest) -> SafeString | str:
        return link_to_apply(obj.apply_id)

    @admin.display(description="error")
    def error(self, obj: ApplyControlRequest) -> str:
        return safe_text(obj.error_message)

    @admin.display(description="metadata")
    def metadata_pretty(self, obj: ApplyControlRequest) -> SafeString:
        return pretty_json(obj.metadata)


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

    @admin.display(description="schema files")
    def schema_files_pretty(self, obj: Plan) -> SafeString:
        return pretty_json(obj.schema_files)

    @admin.display(description="plan data")
    def plan_data_pretty(self, obj: Plan) -> SafeString:
        return pretty_json(obj.plan_data)
