"""Forms of the console's actions: what the operator saw, and why they act."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from applies.inputs import MAX_BULK_ITEMS, MAX_REASON, MAX_SEEN, validate_text
from applies.services.seen import ReclaimItem, Seen

OTHER = "other"
REASONS: tuple[tuple[str, str], ...] = (
    ("driver_gone", "The driver's host or process is gone"),
    ("incident", "Recovering after an incident"),
    ("engine_done", "The engine finished or idles, the apply does not move"),
    ("author_asked", "The change's author asked for it"),
    (OTHER, "Other (say below)"),
)


def details_field(**kwargs: Any) -> forms.CharField:
    """The words a person adds to a reason: optional, plain text, at most ``MAX_REASON``."""
    return forms.CharField(
        required=False, max_length=MAX_REASON, validators=[validate_text], **kwargs
    )


class BaseReasonForm(forms.Form):
    """Why a person acts: one of ``reasons``, then details in their own words, which ``OTHER``
    needs. The console's actions (here) and the admin's fixes (``applies.admin.forms``) each
    declare the two fields, under the names they post (``choice_name``, ``details_name``)."""

    reasons: ClassVar[tuple[tuple[str, str], ...]]
    choice_name: ClassVar[str]
    details_name: ClassVar[str]
    details_missing: ClassVar[str]  # the error when "other" comes without details

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get(self.choice_name) == OTHER and not (data.get(self.details_name) or "").strip():
            self.add_error(self.details_name, self.details_missing)
        return data

    @property
    def stated_reason(self) -> str:
        """The reason as written to the timeline: the choice, then the details if any."""
        choice = self.cleaned_data[self.choice_name]
        text = (self.cleaned_data.get(self.details_name) or "").strip()
        if choice == OTHER:
            return text
        label = dict(self.reasons)[choice]
        return f"{label}: {text}" if text else label


class ReasonForm(BaseReasonForm):
    reasons = REASONS
    choice_name, details_name = "reason_choice", "reason_text"
    details_missing = "Say why: the reason goes into the apply's timeline."

    reason_choice = forms.ChoiceField(choices=REASONS, label="Reason")
    reason_text = details_field(
        label="Details",
        widget=forms.TextInput(attrs={"placeholder": "ticket, incident, what you saw"}),
    )


class ActionForm(ReasonForm):
    """An action on one apply, carrying the state and (short) lease token the operator saw."""

    seen_state = forms.CharField(
        max_length=MAX_SEEN, required=False, validators=[validate_text], widget=forms.HiddenInput
    )
    seen_token = forms.CharField(
        max_length=MAX_SEEN, required=False, validators=[validate_text], widget=forms.HiddenInput
    )

    @property
    def seen(self) -> Seen:
        return Seen(self.cleaned_data["seen_state"], self.cleaned_data["seen_token"])


class BulkReclaimForm(ReasonForm):
    item = forms.MultipleChoiceField(required=True)  # choices are the posted values themselves

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        posted = self.data.getlist("item") if hasattr(self.data, "getlist") else []
        field = self.fields["item"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(value, value) for value in posted]

    def clean_item(self) -> list[ReclaimItem]:
        values = self.cleaned_data["item"]
        if len(values) > MAX_BULK_ITEMS:  # the API's cap too: each one is a claim and a drive
            raise forms.ValidationError(
                f"Select at most {MAX_BULK_ITEMS} applies at a time ({len(values)} were "
                "selected): nothing was done."
            )
        items = [ReclaimItem.decode(value) for value in values]
        if any(item is None for item in items):
            raise forms.ValidationError("An apply in the selection could not be read.")
        return [item for item in items if item is not None]
