"""How pages show things: one badge renderer, and ages as people read them.

The console's templates (``applies.templatetags.console``), its tables (``applies.tables``)
and the admin (``applies.admin.displays``) all render through here. A badge names what it
shows, ``badge--<kind>`` (a state's group from the registry, or a classification), and the
stylesheet alone decides its colour (``static/ternadmin/badges.css``).
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from applies.classify import Classification, Verdict
from applies.durations import duration
from applies.states import StateInfo, apply_state, task_state

VERDICT_LABELS: dict[Verdict, str] = {
    Verdict.CLAIMABLE_NOW: "Claimable now",
    Verdict.HEALTHY: "Healthy",
    Verdict.NEEDS_HUMAN: "Needs a human",
    Verdict.WEDGED: "Wedged",
    Verdict.TERMINAL: "Finished",
}


def badge(kind: str, label: str, title: str) -> SafeString:
    return format_html('<span class="badge badge--{}" title="{}">{}</span>', kind, title, label)


def _state(info: StateInfo) -> SafeString:
    return badge(info.badge.value, info.label, f"{info.value or '(empty)'}: {info.recovery}")


def state_badge(value: str | None) -> SafeString:
    """An apply's (or operation's) state; an unknown string shows as such, never raises."""
    return _state(apply_state(value))


def task_badge(value: str | None) -> SafeString:
    return _state(task_state(value))


def verdict_badge(classification: Classification | None) -> SafeString:
    if classification is None:
        return SafeString("")
    verdict = classification.classification
    return badge(verdict.value, VERDICT_LABELS[verdict], classification.reason)


def ago(seconds: int | None) -> str:
    """``4m12s`` for an age in seconds (database clock); an em dash when unknown."""
    return "—" if seconds is None else duration(int(seconds))
