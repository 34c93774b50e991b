"""The applies admin: a fast list, a read-only page per apply, and the way to fix one."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies.admin.base import ReadOnlyInline
from applies.admin.displays import with_heartbeat
from applies.admin.filters import ClassificationFilter, EnvironmentFilter, state_filter
from applies.admin.fixing import FixingAdmin
from applies.classify import classify
from applies.inputs import parse_id
from applies.models import Apply, ApplyLog, ApplyOperation, Task
from applies.vocabulary import LogSource

LATEST_LOGS = 50
LATEST_TASKS = 200
AUDIT_HISTORY = 50


# --- inlines: an apply's operations, tasks and latest logs ---------------------------------------


class LatestFormSet(BaseInlineFormSet):
    """Only the newest ``limit`` rows of a child table (an apply may have thousands of logs)."""

    limit = LATEST_LOGS

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[: self.limit]
        return self._latest


class LatestTasksFormSet(LatestFormSet):
    limit = LATEST_TASKS


class OperationInline(ReadOnlyInline):
    model = ApplyOperation
    fields = readonly_fields = (
        "deployment",
        "target",
        "state_badge",
        "cutover_policy",
        "on_failure",
        "lease_owner",
        "heartbeat",
        "started_at",
        "completed_at",
    )
    ordering = ("created_at", "id")
    verbose_name_plural = "operations"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_heartbeat(super().get_queryset(request))


class TaskInline(ReadOnlyInline):
    model = Task
    formset = LatestTasksFormSet
    fields = readonly_fields = (
        "task_identifier",
        "operation",
        "namespace",
        "table_name",
        "ddl_action",
        "state_badge",
        "attempt",
        "progress",
        "updated_at",
    )
    ordering = ("id",)
    verbose_name_plural = f"tasks (first {LATEST_TASKS})"

    @admin.display(description="progress")
    def progress(self, obj: Task) -> str:
        return f"{obj.progress_percent or 0}% ({obj.rows_copied or 0:,}/{obj.rows_total or 0:,})"


class LogInline(ReadOnlyInline):
    model = ApplyLog
    formset = LatestFormSet
    fields = readonly_fields = (
        "created_at",
        "level",
        "event_type",
        "source",
        "transition",
        "text",
    )
    ordering = ("-created_at", "-id")
    verbose_name_plural = f"latest {LATEST_LOGS} logs"


# --- the applies admin ---------------------------------------------------------------------------


@admin.register(Apply)
class ApplyAdmin(FixingAdmin):
    list_display = (
        "apply_identifier",
        "state_badge",
        "engine",
        "database_name",
        "environment",
        "deployment",
        "heartbeat",
        "lease_owner",
        "created_at",
    )
    list_filter = (state_filter(), EnvironmentFilter, ClassificationFilter)
    # The unique index on apply_identifier answers both (exact match, or a prefix).
    search_fields = ("^apply_identifier",)
    search_help_text = "An apply identifier, or its beginning."
    ordering = ("-created_at", "-id")
    raw_id_fields = ("lock", "plan")  # never a select listing every lock or plan
    inlines = (OperationInline, TaskInline, LogInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "apply_identifier",
                    "state_badge",
                    "verdict",
                    "error",
                    ("repository", "pull_request"),
                    ("lock_link", "plan_link"),
                )
            },
        ),
        (
            "Target",
            {"fields": (("database_name", "database_type"), ("environment", "deployment"))},
        ),
        (
            "Lease and heartbeat",
            {
                "fields": (
                    ("lease_owner", "lease"),
                    "lease_acquired_at",
                    ("updated_at", "heartbeat"),
                    "attempt",
                )
            },
        ),
        (
            "Timeline",
            {"fields": (("created_at", "started_at", "completed_at"),)},
        ),
        (
            "Details",
            {"fields": ("engine", "caller", "installation_id", "external_id", "options_pretty")},
        ),
    )
    readonly_fields = (
        "state_badge",
        "verdict",
        "error",
        "lock_link",
        "plan_link",
        "lease",
        "heartbeat",
        "options_pretty",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_heartbeat(super().get_queryset(request))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "audit_history": audit_history(object_id),
            "fix_url": reverse("admin:applies_apply_fix", args=[object_id])
            if self.has_fix_permission(request)
            else "",
        }
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description="classification")
    def verdict(self, obj: Apply) -> str:
        found = classify(obj)
        return f"{found.classification.value.replace('_', ' ')}: {found.reason}"

    @admin.display(description="lock")
    def lock_link(self, obj: Apply) -> SafeString:
        url = reverse("admin:applies_lock_change", args=[obj.lock_id])
        return format_html('<a href="{}">{}</a>', url, obj.lock_id)

    @admin.display(description="plan")
    def plan_link(self, obj: Apply) -> SafeString:
        url = reverse("admin:applies_plan_change", args=[obj.plan_id])
        return format_html('<a href="{}">{}</a>', url, obj.plan_id)


def audit_history(object_id: str) -> list[ApplyLog]:
    """ternadmin's own rows in the apply's log, newest first (``idx_apply_created``)."""
    apply_id = parse_id(object_id)
    if apply_id is None:
        return []
    rows = ApplyLog.objects.filter(apply_id=apply_id, source=LogSource.TERNADMIN)
    return list(rows.order_by("-created_at", "-id")[:AUDIT_HISTORY])
