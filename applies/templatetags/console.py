"""Template filters of the console: ages, badges and what the operator saw (all rendered by
``applies.presentation`` and ``applies.services.seen``), redaction, links to PlanetScale."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies import presentation, redact
from applies.durations import duration
from applies.models import Apply
from applies.services.seen import ReclaimItem, Seen

register = template.Library()
register.filter("ago", presentation.ago)
register.filter("state_badge", presentation.state_badge)
register.filter("task_badge", presentation.task_badge)
register.filter("verdict_badge", presentation.verdict_badge)


@register.filter
def seen_query(apply: Apply) -> str:
    """``state=…&token=…``: what the operator sees of the apply, for an action's link."""
    return Seen.of(apply).query()


@register.filter
def bulk_item(apply: Apply) -> str:
    """``<id>:<state>:<token>``: a check box's value in a bulk reclaim."""
    return ReclaimItem.of(apply).encode()


@register.filter
def due(seconds: float | None) -> str:
    """When a drive's next step is due: ``now`` once due, ``in 4s`` before; an em dash when
    nothing is scheduled."""
    if seconds is None:
        return "—"
    return "now" if seconds <= 0.5 else f"in {duration(round(seconds))}"


@register.filter
def short(token: str | None) -> str:
    """The first characters of a lease token: never the whole token."""
    return redact.short_token(token) or "—"


@register.filter
def redacted(text: str | None) -> str:
    return redact.redact(text)


@register.filter
def redacted_json(value: Any) -> str:
    """JSON as SchemaBot stored it, secret-looking keys masked."""
    return json.dumps(redact.redact_json(value), sort_keys=True)


def planetscale_url(url: str) -> bool:
    """Whether ``url`` is an https page of the configured PlanetScale app (and nothing else:
    no ``javascript:``, no other host, no credentials, no look-alike host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and (parts.hostname or "") == settings.PLANETSCALE_APP_HOST
        and port is None
        and parts.username is None
    )


@register.simple_tag
def engine_link(url: str | None, text: str = "open") -> SafeString:
    """A link to ``url`` when it is PlanetScale's app; any other value shown as text."""
    if not url:
        return SafeString("")
    if planetscale_url(url):
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', url, text
        )
    return format_html(
        '<span class="muted" title="not a PlanetScale link">{}</span>', redact.redact(url)
    )
