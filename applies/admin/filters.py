"""The admin's list filters: each one an index range (state, environment, level, status…) or
the small set of unfinished applies, with choices from the registry and the vocabulary rather
than a ``SELECT DISTINCT`` over a table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from applies import states
from applies.classify import Verdict, live
from applies.models import Apply

MAX_ENVIRONMENTS = 20


def choice_filter(column: str, title: str, choices: Iterable[tuple[str, str]]) -> type:
    """A list filter on ``column`` whose choices are fixed: no query to list them."""
    options = list(choices)

    class ChoiceFilter(admin.SimpleListFilter):
        parameter_name = column

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return options

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            value = self.value()
            return queryset.filter(**{column: value}) if value else queryset

    ChoiceFilter.title = title
    return ChoiceFilter


def labels(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value.replace("_", " ")) for value in values]


def state_filter(*, tasks: bool = False) -> type:
    """A filter by state (``idx_state_created_id``, tasks' ``idx_state``)."""
    registry = states.TASK_STATES if tasks else states.APPLY_STATES
    return choice_filter("state", "state", states.choices(registry))


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
