"""Forms of the admin's fix pages: what to change, why, and what the person saw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils import timezone

from applies import states
from applies.forms import OTHER, BaseReasonForm, details_field
from applies.models import Apply
from applies.services.seen import Seen

# Why people fix applies by hand; "other" needs words of its own.
REASONS = (
    ("driver_died", "Its driver died and left it wedged"),
    ("finished_outside", "The change was finished or undone outside SchemaBot"),
    ("abandoned", "Abandoned or duplicate apply"),
    ("unknown_state", "A state this SchemaBot does not know"),
    (OTHER, "Other (say what below)"),
)


def state_choices() -> list[tuple[str, Any]]:
    """Every registered apply state, active ones first, as ``label (value)``; none preselected."""
    groups: dict[str, list[tuple[str, str]]] = {"Active": [], "Terminal": []}
    for info in states.APPLY_STATES.values():
        groups["Terminal" if info.terminal else "Active"].append(
            (info.value, f"{info.label} ({info.value})")
        )
    return [("", "Choose a state…"), *groups.items()]


def seen_initial(apply: Apply) -> dict[str, str]:
    """What the page shows of the apply, sent back with the fix for compare-and-set."""
    seen = Seen.of(apply)
    return {
        "seen_state": seen.state,
        "seen_token": seen.token,
        "seen_updated_at": apply.updated_at.isoformat(),
    }


def parse_seen_time(value: str) -> datetime | None:
    """The heartbeat a page showed, in UTC; ``None`` for anything else.

    Converted here, inside the ``try``: an ISO time can be valid and still have no UTC form
    (``0001-01-01T00:00:00+14:00``), and the fixes compare in UTC.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


class ReasonForm(BaseReasonForm):
    reasons = REASONS
    choice_name, details_name = "reason", "details"
    details_missing = "Say what the reason is."

    reason = forms.ChoiceField(
        choices=[("", "Choose a reason…"), *REASONS],
        error_messages={"required": "Give a reason: it goes into the apply's audit trail."},
    )
    details = details_field(
        label="Details",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Ticket, incident or what you checked. Required for “Other”.",
    )


class ConfirmLiveMixin(forms.Form):
    confirm_live = forms.BooleanField(
        required=False,
        label="A driver may still be live: end its work",
        help_text="Needed when the heartbeat is fresh; the driver loses its lease and stops.",
    )


class FixStateForm(ReasonForm, ConfirmLiveMixin):
    new_state = forms.ChoiceField(
        label="New state",
        choices=state_choices,
        error_messages={"invalid_choice": "“%(value)s” is not a registered state."},
    )
    reset_heartbeat = forms.BooleanField(
        required=False,
        label="Reset the heartbeat to now",
        help_text="Leave unticked to keep updated_at as it is: a dead apply must not look alive.",
    )
    seen_state = forms.CharField(required=False, widget=forms.HiddenInput)
    seen_token = forms.CharField(required=False, widget=forms.HiddenInput)
    seen_updated_at = forms.CharField(widget=forms.HiddenInput)

    field_order = ["new_state", "reason", "details", "confirm_live", "reset_heartbeat"]

    @property
    def seen(self) -> Seen:
        data = self.cleaned_data
        return Seen(data["seen_state"], data["seen_token"], data["seen_updated_at"])

    def clean_seen_updated_at(self) -> datetime:
        parsed = parse_seen_time(self.cleaned_data["seen_updated_at"])
        if parsed is None:
            raise forms.ValidationError("The page was incomplete: reload it and try again.")
        return parsed


class BulkActionForm(ReasonForm, ConfirmLiveMixin):
    """The confirmation page of an admin action over the selected applies."""

    field_order = ["reason", "details", "confirm_live"]
