"""django-tables2 tables of the console. Ordering is offered only where an index serves it."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies import states
from applies.classify import Classification
from applies.models import Apply
from applies.presentation import ago, state_badge, verdict_badge


class BaseTable(tables.Table):
    """Every console table: the console's grid style, no row counts."""

    class Meta:
        attrs = {"class": "grid"}
        orderable = False
        order_by_field = "sort"
        empty_text = "No applies match."


class ApplyTable(BaseTable):
    class Meta(BaseTable.Meta):
        pass

    id = tables.Column(verbose_name="ID", attrs={"td": {"class": "num"}})
    apply_identifier = tables.Column(verbose_name="Apply", attrs={"td": {"class": "nowrap"}})
    state = tables.Column(verbose_name="State")
    engine = tables.Column(verbose_name="Engine")
    database_name = tables.Column(verbose_name="Database / env / deployment")
    repository = tables.Column(verbose_name="Repository / PR")
    heartbeat_age = tables.Column(
        verbose_name="Heartbeat", empty_values=(), attrs={"td": {"class": "num nowrap"}}
    )
    classification = tables.Column(verbose_name="Classification", empty_values=(), accessor="pk")
    created_at = tables.DateTimeColumn(
        verbose_name="Created (UTC)",
        format="Y-m-d H:i",
        orderable=True,
        attrs={"td": {"class": "nowrap muted"}},
    )

    def __init__(self, *args: Any, classifications: dict[int, Classification], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.classifications = classifications

    def render_apply_identifier(self, value: str, record: Apply) -> str:
        url = reverse("apply-detail", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, value)

    def render_state(self, value: str) -> SafeString:
        return state_badge(value)

    def render_database_name(self, value: str, record: Apply) -> str:
        return format_html(
            '{} <span class="muted">/ {} / {}</span>',
            value,
            record.environment,
            record.deployment or "—",
        )

    def render_repository(self, value: str, record: Apply) -> str:
        return format_html("{}#{}", value, record.pull_request)

    def render_heartbeat_age(self, value: int | None, record: Apply) -> str:
        if value is not None and states.apply_state(record.state).terminal:
            return format_html('<span class="muted">{}</span>', ago(value))
        return ago(value)

    def render_classification(self, value: int) -> SafeString:
        return verdict_badge(self.classifications.get(value))
