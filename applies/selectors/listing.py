"""The applies list: keyset pages over ``(created_at, id)``, never a count.

A page is ``ORDER BY created_at, id LIMIT n + 1`` after (or before) the last row seen, so the
millionth row costs what the first does: each filter the list offers narrows an index that
ends in ``(created_at, id)`` (``idx_created_id``, ``idx_state_created_id``,
``idx_environment_created_id``, ``idx_environment_state_created_id``) or selects few rows
(``idx_repo_pr``, ``idx_database_env``, ``idx_apply_identifier``, the primary key). Engine,
deployment and PR, which no index starts with, are refused unless one of those comes with them
(``applies.filters.REFINING``): they read at most the rows it narrows to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from django.db.models import Q, QuerySet
from django.http import QueryDict

from applies.classify import Classification, annotate_for_classification, classify_all
from applies.dbclock import AgeSeconds
from applies.inputs import parse_id
from applies.models import Apply
from applies.selectors.live import DISPLAY_FIELDS
from applies.states import ApplyState, apply_state

PAGE_SIZE = 50


class Order(StrEnum):
    NEWEST = "-created_at"
    OLDEST = "created_at"


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the ``(created_at, id)`` of a row, as ``<epoch>.<id>``."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{int(self.created_at.timestamp())}.{self.id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        """The cursor in ``raw``; ``None`` for anything malformed (the list starts over)."""
        epoch, _, pk = (raw or "").partition(".")
        apply_id = parse_id(pk)
        if apply_id is None or not epoch.isascii() or not epoch.isdigit():
            return None
        try:
            return cls(datetime.fromtimestamp(int(epoch), tz=UTC), apply_id)
        except (ValueError, OverflowError, OSError):
            return None

    @classmethod
    def of(cls, apply: Apply) -> Cursor:
        return cls(apply.created_at, apply.pk)


def page_query(params: QueryDict, key: str | None, cursor: Cursor | None) -> str | None:
    """The query string of another page of the same list (the console's and the API's):
    ``params`` with their position replaced by ``key=cursor``, or by none for the first page
    (``key`` ``None``). ``None`` when there is no such page (no cursor)."""
    if key is not None and cursor is None:
        return None
    query = params.copy()
    for name in ("after", "before", "page"):
        query.pop(name, None)
    if key is not None and cursor is not None:
        query[key] = cursor.encode()
    return query.urlencode()


@dataclass(frozen=True)
class ApplyPage:
    rows: list[Apply]  # each with ``heartbeat_age``
    classifications: dict[int, Classification]  # unfinished rows of the page only
    newer: Cursor | None  # "before" cursor of the previous page, None on the first
    older: Cursor | None  # "after" cursor of the next page, None on the last

    @property
    def first(self) -> bool:
        return self.newer is None


def base_queryset() -> QuerySet[Apply]:
    return Apply.objects.all()


# Columns an equality filter may fix in front of ``(created_at, id)``, in index order:
# ``idx_environment_state_created_id``, ``idx_state_created_id``, ``idx_environment_created_id``.
PREFIX_COLUMNS = ("environment", "state")


def where_equal(queryset: QuerySet[Apply], column: str, value: str) -> QuerySet[Apply]:
    """``column = value``, written as the one-value range ``column >= value AND column <= value``.

    The same rows. Why: given ``state = 'completed'``, MariaDB 10.11 reads
    ``idx_state_created_id`` by ``ref`` and, on a deep page, walks every newer row to reach the
    cursor (430,000 rows at a million applies, 1.5 s). A range seeks straight to the cursor.
    Use it for the ``PREFIX_COLUMNS`` and pass them to ``apply_page`` as ``prefix``.
    """
    return queryset.filter(**{f"{column}__gte": value, f"{column}__lte": value})


def _beyond(cursor: Cursor, forward: bool, newest_first: bool) -> Q:
    """Rows past ``cursor`` in the walking direction (an OR of two index ranges)."""
    later = forward != newest_first  # walking towards newer rows
    if later:
        return Q(created_at__gt=cursor.created_at) | Q(
            created_at=cursor.created_at, id__gt=cursor.id
        )
    return Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, id__lt=cursor.id)


def apply_page(
    queryset: QuerySet[Apply],
    *,
    order: Order = Order.NEWEST,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
    prefix: Sequence[str] = (),
) -> ApplyPage:
    """One page of ``queryset`` in ``order``: after ``after`` (next page), before ``before``
    (previous page), or the first page.

    ``prefix``: the ``PREFIX_COLUMNS`` that ``queryset`` fixes to one value (``where_equal``).
    They lead the ``ORDER BY`` (which changes nothing, each has one value), so that only the
    index starting with them serves the order, and the optimizer walks it from the cursor
    instead of walking ``idx_created_id`` and filtering, which reads the whole table when the
    other filters match nothing.
    """
    newest_first = order is Order.NEWEST
    cursor, forward = (before, False) if before is not None else (after, True)
    walk_desc = newest_first == forward
    columns = [c for c in PREFIX_COLUMNS if c in prefix] + ["created_at", "id"]
    ordering = [f"-{c}" if walk_desc else c for c in columns]
    queryset = queryset.only(*DISPLAY_FIELDS).annotate(heartbeat_age=AgeSeconds("updated_at"))
    if cursor is not None:
        queryset = queryset.filter(_beyond(cursor, forward, newest_first))
    rows: list[Apply] = list(queryset.order_by(*ordering)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return ApplyPage([], {}, None, None)
    newer = (
        Cursor.of(rows[0]) if (cursor is not None and forward) or (not forward and more) else None
    )
    older = Cursor.of(rows[-1]) if (forward and more) or not forward else None
    return ApplyPage(rows, classify_rows(rows), newer, older)


def classify_rows(rows: list[Apply]) -> dict[int, Classification]:
    """Classify the unfinished rows of a page (one query by primary key)."""
    # Stopped is terminal, yet a start request makes it claimable.
    ids = [
        row.pk
        for row in rows
        if not apply_state(row.state).terminal or row.state == ApplyState.STOPPED
    ]
    if not ids:
        return {}
    queryset = annotate_for_classification(base_queryset().filter(pk__in=ids))
    return {c.apply_id: c for c in classify_all(queryset)}
