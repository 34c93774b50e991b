"""Forms of the console's actions: what the operator saw, and why they act."""

from __future__ import annotations

from typing import Any

from django import forms

from applies.inputs import MAX_REASON, MAX_SEEN, parse_id, text_problem, validate_text
from applies.services.actions import ReclaimItem

OTHER = "other"
REASONS: tuple[tuple[str, str], ...] = (
    ("driver_gone", "The driver's host or process is gone"),
    ("incident", "Recovering after an incident"),
    ("engine_done", "The engine finished or idles, the apply does not move"),
    ("author_asked", "The change's author asked for it"),
    (OTHER, "Other (say below)"),
)
REASON_LABELS = dict(REASONS)


class ReasonForm(forms.Form):
    reason_choice = forms.ChoiceField(choices=REASONS, label="Reason")
    reason_text = forms.CharField(
        required=False,
        max_length=MAX_REASON,
        validators=[validate_text],
        label="Details",
        widget=forms.TextInput(attrs={"placeholder": "ticket, incident, what you saw"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason_choice") == OTHER and not (data.get("reason_text") or "").strip():
            self.add_error("reason_text", "Say why: the reason goes into the apply's timeline.")
        return data

    @property
    def reason(self) -> str:
        """The reason as written to the timeline: the choice, then the details if any."""
        choice = self.cleaned_data["reason_choice"]
        text = (self.cleaned_data.get("reason_text") or "").strip()
        if choice == OTHER:
            return text
        label = REASON_LABELS[choice]
        return f"{label}: {text}" if text else label


class ActionForm(ReasonForm):
    """An action on one apply, carrying the state and (short) lease token the operator saw."""

    seen_state = forms.CharField(
        max_length=MAX_SEEN, required=False, validators=[validate_text], widget=forms.HiddenInput
    )
    seen_token = forms.CharField(
        max_length=MAX_SEEN, required=False, validators=[validate_text], widget=forms.HiddenInput
    )


def parse_item(value: str) -> ReclaimItem | None:
    """``<id>:<state>:<short token>`` as the dashboard's check boxes send it; ``None`` for
    anything else (an id out of range, an overlong or unstorable state or token)."""
    head, _, token = value.rpartition(":")
    pk, _, state = head.partition(":")
    apply_id = parse_id(pk) if head else None
    if apply_id is None or not seen_value_ok(state) or not seen_value_ok(token):
        return None
    return ReclaimItem(apply_id, state, token)


def seen_value_ok(value: str) -> bool:
    """A state or short token as sent back: short, and plain text."""
    return len(value) <= MAX_SEEN and text_problem(value) is None


def item_value(apply_id: int, state: str, token: str) -> str:
    return f"{apply_id}:{state}:{token}"


class BulkReclaimForm(ReasonForm):
    item = forms.MultipleChoiceField(required=True)  # choices are the posted values themselves

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        posted = self.data.getlist("item") if hasattr(self.data, "getlist") else []
        field = self.fields["item"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(value, value) for value in posted]

    def clean_item(self) -> list[ReclaimItem]:
        items = [parse_item(value) for value in self.cleaned_data["item"]]
        if any(item is None for item in items):
            raise forms.ValidationError("An apply in the selection could not be read.")
        return [item for item in items if item is not None]
