"""The columns the admin shows, rendered once: one mixin for the admins and inlines of
SchemaBot's tables, instead of a display method per admin.

Badges and ages come from ``applies.presentation`` (the console's renderer); free text and
JSON a driver wrote pass through ``applies.redact`` first. The admin's empty value is "-".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies import presentation, states
from applies.dbclock import AgeSeconds
from applies.durations import duration
from applies.models import Task
from applies.redact import redact, redact_json, short_token
from applies.windows import heartbeat_fresh


def with_heartbeat(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The heartbeat's age and freshness, both by the database clock (``Displays.heartbeat``)."""
    return queryset.annotate(
        heartbeat_age=AgeSeconds("updated_at"), heartbeat_fresh=heartbeat_fresh()
    )


def pretty_json(value: Any) -> SafeString:
    """JSON indented, sorted and with secrets masked; ``-`` for none."""
    if value in (None, "", {}, []):
        return format_html('<span class="quiet">{}</span>', "-" if value is None else value)
    text = json.dumps(redact_json(value), indent=2, sort_keys=True, default=str)
    return format_html('<pre class="json">{}</pre>', text)


def safe_text(value: str | None) -> str:
    """Free text a driver wrote (errors, log lines), with credentials masked."""
    return redact(value) or "-"


def age(seconds: int | None) -> str:
    return "-" if seconds is None else f"{duration(seconds)} ago"


def link_to_apply(apply_id: int | None) -> SafeString | str:
    """A link to an apply by id, without loading it (the row may not even exist)."""
    if apply_id is None:
        return "-"
    url = reverse("admin:applies_apply_change", args=[apply_id])
    return format_html('<a href="{}">{}</a>', url, apply_id)


def link_to_operation(operation_id: int | None) -> SafeString | str:
    if operation_id is None:
        return "-"
    url = reverse("admin:applies_applyoperation_change", args=[operation_id])
    return format_html('<a href="{}">{}</a>', url, operation_id)


def _json_column(field: str, description: str) -> Callable[[Any, Any], SafeString]:
    @admin.display(description=description)
    def show(self: Any, obj: Any) -> SafeString:
        return pretty_json(getattr(obj, field))

    return show


class Displays:
    """Display methods for the columns SchemaBot's tables share: an admin lists by name the
    ones its table has (``list_display``, ``fields``, ``readonly_fields``)."""

    @admin.display(description="apply")
    def apply_link(self, obj: Any) -> SafeString | str:
        return link_to_apply(obj.apply_id)

    @admin.display(description="operation")
    def operation(self, obj: Any) -> SafeString | str:
        return link_to_operation(obj.apply_operation_id)

    @admin.display(description="state")
    def state_badge(self, obj: Any) -> SafeString:
        if isinstance(obj, Task):
            return presentation.task_badge(obj.state)
        return presentation.state_badge(obj.state)

    @admin.display(description="error")
    def error(self, obj: Any) -> str:
        return safe_text(obj.error_message)

    @admin.display(description="lease token")
    def lease(self, obj: Any) -> str:
        return short_token(obj.lease_token) or "-"

    @admin.display(description="heartbeat (DB clock)")
    def heartbeat(self, obj: Any) -> SafeString:
        """The age of ``updated_at`` (from ``with_heartbeat``), marked when a driver looks
        alive: fresh, and not finished."""
        fresh = bool(getattr(obj, "heartbeat_fresh", False))
        live = fresh and not states.apply_state(obj.state).terminal
        return format_html(
            '<span class="{}" title="{}">{}</span>',
            "heartbeat heartbeat--live" if live else "heartbeat",
            "fresh: a driver looks alive" if live else "",
            age(getattr(obj, "heartbeat_age", None)),
        )

    @admin.display(description="old → new")
    def transition(self, obj: Any) -> str:
        if not (obj.old_state or obj.new_state):
            return "-"
        return f"{obj.old_state or '-'} → {obj.new_state or '-'}"

    @admin.display(description="message")
    def text(self, obj: Any) -> str:
        return safe_text(obj.message)

    options_pretty = _json_column("options", "options")
    metadata_pretty = _json_column("metadata", "metadata")
    resume_metadata = _json_column("engine_resume_metadata", "engine resume metadata")
    schema_files_pretty = _json_column("schema_files", "schema files")
    plan_data_pretty = _json_column("plan_data", "plan data")
