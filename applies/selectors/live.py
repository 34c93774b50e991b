"""The applies that are not finished, each with its classification, for the dashboard and
the list's classification filter.

``applies.classify.live`` classifies every non-terminal apply, unknown states included (those
are exactly the wedged ones an operator must see), and stopped ones a start request would
claim. Its reads are index ranges on ``state``; the set is small (one active apply per
target), whatever the size of history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Min

from applies import states
from applies.classify import Classification, Verdict
from applies.dbclock import AgeSeconds
from applies.lines import current_line
from applies.models import Apply, Task

# The columns the console shows for an apply in a list.
DISPLAY_FIELDS = (
    "id",
    "apply_identifier",
    "state",
    "engine",
    "database_name",
    "database_type",
    "environment",
    "deployment",
    "repository",
    "pull_request",
    "lease_owner",
    "lease_token",
    "attempt",
    "created_at",
    "updated_at",
)


class Filter(StrEnum):
    """The classifications an operator filters by (the list's ``classification`` filter)."""

    STALE = "stale"  # claimable now
    WEDGED = "wedged"
    NEEDS_HUMAN = "needs_human"
    HEALTHY = "healthy"


FILTER_VERDICTS: dict[Filter, Verdict] = {
    Filter.STALE: Verdict.CLAIMABLE_NOW,
    Filter.WEDGED: Verdict.WEDGED,
    Filter.NEEDS_HUMAN: Verdict.NEEDS_HUMAN,
    Filter.HEALTHY: Verdict.HEALTHY,
}


@dataclass(frozen=True)
class LiveApply:
    apply: Apply
    classification: Classification

    @property
    def heartbeat_age(self) -> int:
        return self.classification.heartbeat_age_seconds


@dataclass(frozen=True)
class Idle:
    """A healthy apply whose tasks have not changed for a while."""

    live: LiveApply
    idle_seconds: int
    progress: int | None


def applies_by_id(ids: Sequence[int]) -> dict[int, Apply]:
    """The display columns of the applies with these ids, by id (one query by primary key);
    an id with no apply is left out."""
    return Apply.objects.only(*DISPLAY_FIELDS).in_bulk(list(ids))


def with_rows(found: Sequence[Classification]) -> list[LiveApply]:
    """Attach the display columns of each classified apply (one query by primary key)."""
    rows = applies_by_id([c.apply_id for c in found])
    return [LiveApply(rows[c.apply_id], c) for c in found if c.apply_id in rows]


def ids_with(found: Sequence[Classification], wanted: Filter) -> list[int]:
    verdict = FILTER_VERDICTS[wanted]
    return [c.apply_id for c in found if c.classification is verdict]


def not_progressing(healthy: Sequence[LiveApply], after_seconds: int) -> list[Idle]:
    """Healthy applies held by a live driver whose tasks have not changed for
    ``after_seconds`` (task rows are written only when progress moves; heartbeats go to the
    apply and operation rows). States that idle by design are left out."""
    line = current_line()
    watched = {
        item.apply.pk: item
        for item in healthy
        if line.claimable(item.apply.state)
        and not states.apply_state(item.apply.state).idles_by_design
    }
    if not watched:
        return []
    rows = (
        Task.objects.filter(apply_id__in=list(watched))
        .values("apply_id")
        .annotate(idle=Min(AgeSeconds("updated_at")), progress=Min("progress_percent"))
        .order_by()
    )
    idle = [
        Idle(watched[row["apply_id"]], int(row["idle"] or 0), row["progress"])
        for row in rows
        if row["idle"] is not None and int(row["idle"]) >= after_seconds
    ]
    return sorted(idle, key=lambda item: -item.idle_seconds)
