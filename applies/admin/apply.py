"""The applies admin: a fast list, a read-only page per apply, and the way to fix one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies import states
from applies.admin.base import (
    ReadOnlyInline,
    age,
    apply_badge,
    link_to_operation,
    pretty_json,
    safe_text,
    task_badge,
)
from applies.admin.fixing import FixingAdmin
from applies.classify import Verdict, classify, live
from applies.dbclock import AgeSeconds, SecondsAgo
from applies.inputs import parse_id
from applies.models import Apply, ApplyLog, ApplyOperation, Task
from applies.redact import short_token
from applies.vocabulary import LogSource

LATEST_LOGS = 50
LATEST_TASKS = 200
AUDIT_HISTORY = 50
MAX_ENVIRONMENTS = 20


def with_heartbeat(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The heartbeat's age and freshness, both by the database clock."""
    fresh = SecondsAgo(settings.TERNADMIN_STALE_AFTER_SECONDS)
    return queryset.annotate(
        heartbeat_age=AgeSeconds("updated_at"),
        heartbeat_fresh=ExpressionWrapper(Q(updated_at__gte=fresh), output_field=BooleanField()),
    )


# --- filters: each one an index range (state, environment) or the small live set ----------------


def environments(limit: int = MAX_ENVIRONMENTS) -> list[str]:
    """The environments applies use, one index seek each (``idx_environment_created_id``).

    ``SELECT DISTINCT`` would be a loose index scan only while the optimizer's statistics are
    fresh; right after a bulk load MariaDB reads the whole index instead. A seek per value
    costs the same at any size, and there are only a handful of environments.
    """
    ordered = Apply.objects.order_by("environment").values_list("environment", flat=True)
    found: list[str] = []
    current = ordered.first()
    while current is not None and len(found) < limit:
        found.append(current)
        current = ordered.filter(environment__gt=current).first()
    return found


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(info.value, info.label) for info in states.APPLY_STATES.values()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(state=value) if value else queryset


class EnvironmentFilter(admin.SimpleListFilter):
    title = "environment"
    parameter_name = "environment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name or "(empty)") for name in environments()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(environment=value)


class ClassificationFilter(admin.SimpleListFilter):
    """classify's verdicts, computed over the unfinished applies only (never over history)."""

    title = "classification"
    parameter_name = "classification"
    labels = {
        Verdict.CLAIMABLE_NOW: "Claimable now (stale)",
        Verdict.HEALTHY: "Healthy (a driver holds it)",
        Verdict.NEEDS_HUMAN: "Needs a human",
        Verdict.WEDGED: "Wedged (nothing will claim it)",
        Verdict.TERMINAL: "Terminal",
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(verdict.value, label) for verdict, label in self.labels.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in {verdict.value for verdict in self.labels}:
            return queryset
        found = live()
        if value == Verdict.TERMINAL:
            claimable = [c.apply_id for c in found if c.classification is Verdict.CLAIMABLE_NOW]
            return queryset.filter(state__in=states.TERMINAL_APPLY_STATES).exclude(pk__in=claimable)
        # Primary-key lookups of the few matching applies (unknown states are among the
        # wedged: classify.live reads every non-terminal state present).
        return queryset.filter(pk__in=[c.apply_id for c in found if c.classification == value])


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

    @admin.display(description="state")
    def state_badge(self, obj: ApplyOperation) -> SafeString:
        return apply_badge(obj.state)

    @admin.display(description="heartbeat")
    def heartbeat(self, obj: ApplyOperation) -> str:
        return age(getattr(obj, "heartbeat_age", None))


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

    @admin.display(description="state")
    def state_badge(self, obj: Task) -> SafeString:
        return task_badge(obj.state)

    @admin.display(description="operation")
    def operation(self, obj: Task) -> SafeString | str:
        return link_to_operation(obj.apply_operation_id)

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

    @admin.display(description="old → new")
    def transition(self, obj: ApplyLog) -> str:
        if not (obj.old_state or obj.new_state):
            return "-"
        return f"{obj.old_state or '-'} → {obj.new_state or '-'}"

    @admin.display(description="message")
    def text(self, obj: ApplyLog) -> str:
        return safe_text(obj.message)


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
    list_filter = (StateFilter, EnvironmentFilter, ClassificationFilter)
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

    @admin.display(description="state")
    def state_badge(self, obj: Apply) -> SafeString:
        return apply_badge(obj.state)

    @admin.display(description="heartbeat (DB clock)")
    def heartbeat(self, obj: Apply) -> SafeString:
        seconds = getattr(obj, "heartbeat_age", None)
        fresh = bool(getattr(obj, "heartbeat_fresh", False))
        live = fresh and not states.apply_state(obj.state).terminal
        return format_html(
            '<span class="{}" title="{}">{}</span>',
            "heartbeat heartbeat--live" if live else "heartbeat",
            "fresh: a driver looks alive" if live else "",
            age(seconds),
        )

    @admin.display(description="lease token")
    def lease(self, obj: Apply) -> str:
        return short_token(obj.lease_token) or "-"

    @admin.display(description="classification")
    def verdict(self, obj: Apply) -> str:
        found = classify(obj)
        return f"{found.classification.value.replace('_', ' ')}: {found.reason}"

    @admin.display(description="error")
    def error(self, obj: Apply) -> str:
        return safe_text(obj.error_message)

    @admin.display(description="options")
    def options_pretty(self, obj: Apply) -> SafeString:
        return pretty_json(obj.options)

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
