"""The applies list's filters: each narrows an index, or refines one that does (see
``selectors.listing``).

No index of SchemaBot's starts with ``engine``, ``deployment`` or ``pull_request``: alone, any of
them would walk ``idx_created_id`` testing every row, the whole table when nothing matches. So
each is taken only together with a filter that narrows an index (``REFINING``), and then reads
at most what that one selects (a deployment within a database is ``idx_database_env_deployment``,
a PR within a repository ``idx_repo_pr``).

Classification and heartbeat age are properties of unfinished applies, computed by the
database clock: those two filters look at the unfinished set (``selectors.live``), which is
small at any size of history, and narrow the list to its ids.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db.models import QuerySet

from applies import classify
from applies.classify import Classification
from applies.inputs import parse_id
from applies.models import Apply
from applies.selectors import listing, live
from applies.vocabulary import Engine

_REPO_PR = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)#(?P<pr>[0-9]{1,20})$", re.ASCII)
MAX_PULL_REQUEST = 2**32 - 1  # SchemaBot's pull_request is INT UNSIGNED

CLASSIFICATIONS = (
    (live.Filter.STALE, "Stale: claimable now"),
    (live.Filter.WEDGED, "Wedged"),
    (live.Filter.NEEDS_HUMAN, "Needs a human"),
    (live.Filter.HEALTHY, "Healthy"),
)
HEARTBEATS = (
    ("fresh", "Fresh (within the stale window)"),
    ("stale", "Stale (past the stale window)"),
    ("15m", "Older than 15 minutes"),
    ("1h", "Older than an hour"),
)


# Filters on a column no index starts with: each needs another filter, one that is not here.
REFINING = ("engine", "deployment", "pull_request")


class ApplyFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = {name for name, value in data.items() if value not in (None, "")}
        if given and given <= set(REFINING):
            narrowing = ", ".join(
                str(field.label).lower()
                for name, field in self.fields.items()
                if name not in REFINING
            )
            for name in given:
                self.add_error(
                    name,
                    f"{self.fields[name].label} only narrows another filter (no index starts "
                    f"with it): add one of {narrowing}.",
                )
        return data


def _heartbeat_range(value: str) -> tuple[int, int | None]:
    """``[low, high)`` seconds of heartbeat age for a heartbeat choice."""
    window = int(settings.TERNADMIN_STALE_AFTER_SECONDS)
    return {
        "fresh": (0, window),
        "stale": (window, None),
        "15m": (900, None),
        "1h": (3600, None),
    }[value]


class ApplyFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(
            attrs={"placeholder": "id, apply-…, owner/repo#123", "type": "search"}
        ),
    )
    state = django_filters.CharFilter(
        method="equal", label="State", widget=forms.TextInput(attrs={"list": "states"})
    )
    engine = django_filters.ChoiceFilter(
        choices=[(e.value, e.value) for e in Engine], label="Engine"
    )
    environment = django_filters.CharFilter(method="equal", label="Environment")
    database = django_filters.CharFilter(field_name="database_name", label="Database")
    repository = django_filters.CharFilter(label="Repository")
    pull_request = django_filters.NumberFilter(
        label="PR", min_value=0, max_value=MAX_PULL_REQUEST, decimal_places=0
    )
    deployment = django_filters.CharFilter(label="Deployment")
    classification = django_filters.ChoiceFilter(
        choices=CLASSIFICATIONS, method="by_classification", label="Classification"
    )
    heartbeat = django_filters.ChoiceFilter(
        choices=HEARTBEATS, method="by_heartbeat", label="Heartbeat"
    )

    class Meta:
        model = Apply
        fields: list[str] = []
        form = ApplyFilterForm

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live: list[Classification] | None = None

    def live_set(self) -> list[Classification]:
        """The unfinished applies, classified once per request."""
        if self._live is None:
            self._live = classify.live()
        return self._live

    def equal(self, queryset: QuerySet[Apply], name: str, value: str) -> QuerySet[Apply]:
        return listing.where_equal(queryset, name, value)

    def prefix(self) -> list[str]:
        """The ordered-index columns this filtering fixes (for ``listing.apply_page``)."""
        data = self.form.cleaned_data if self.is_valid() else {}
        return [column for column in listing.PREFIX_COLUMNS if data.get(column)]

    def search(self, queryset: QuerySet[Apply], name: str, value: str) -> QuerySet[Apply]:
        value = value.strip()
        if value.isascii() and value.isdigit():
            apply_id = parse_id(value)
            return queryset.filter(pk=apply_id) if apply_id else queryset.none()
        match = _REPO_PR.match(value)
        if match:
            number = int(match["pr"])
            if number > MAX_PULL_REQUEST:
                return queryset.none()
            return queryset.filter(repository=match["repo"], pull_request=number)
        # A prefix of the identifier: a range on idx_apply_identifier.
        return queryset.filter(apply_identifier__istartswith=value)

    def by_classification(
        self, queryset: QuerySet[Apply], name: str, value: str
    ) -> QuerySet[Apply]:
        return queryset.filter(pk__in=live.ids_with(self.live_set(), live.Filter(value)))

    def by_heartbeat(self, queryset: QuerySet[Apply], name: str, value: str) -> QuerySet[Apply]:
        low, high = _heartbeat_range(value)
        ids = [
            c.apply_id
            for c in self.live_set()
            if c.heartbeat_age_seconds >= low and (high is None or c.heartbeat_age_seconds < high)
        ]
        return queryset.filter(pk__in=ids)
