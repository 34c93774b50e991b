"""Template filters of the console: durations, badges from the registry, redaction."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies import classify, redact, states, tables

register = template.Library()


@register.filter
def ago(seconds: int | None) -> str:
    """``4m12s`` for an age in seconds (database clock); an em dash when unknown."""
    return "—" if seconds is None else classify.duration(int(seconds))


@register.filter
def due(seconds: float | None) -> str:
    """When a drive's next step is due: ``now`` once due, ``in 4s`` before; an em dash when
    nothing is scheduled."""
    if seconds is None:
        return "—"
    return "now" if seconds <= 0.5 else f"in {classify.duration(round(seconds))}"


@register.filter
def state_badge(value: str | None) -> SafeString:
    return SafeString(tables.state_badge(value or ""))


@register.filter
def task_badge(value: str | None) -> SafeString:
    info = states.task_state(value)
    return format_html(
        '<span class="badge badge--{}" title="{}">{}</span>',
        info.badge.value,
        info.value,
        info.label,
    )


@register.filter
def verdict_badge(value: classify.Classification | None) -> SafeString:
    return SafeString(tables.verdict_badge(value))


@register.filter
def state_label(value: str | None) -> str:
    return states.apply_state(value).label


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
