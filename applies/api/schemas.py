"""What the API accepts, declared: ids, list parameters, action bodies, bulk items.

The bounds are the console's (``applies.inputs``): an id is 1..2**63-1, a reason non-blank,
at most ``MAX_REASON`` characters of plain text, a state or short token at most ``MAX_SEEN``.
Anything else is a 400 ``invalid`` naming the field, before any query or write.
"""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from applies.inputs import MAX_BULK_ITEMS, MAX_ID, MAX_REASON, MAX_SEEN, text_problem
from applies.selectors import Order
from applies.services.seen import ReclaimItem, Seen

MAX_LIMIT = 200


def _plain_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"the text {problem}")
    return value


def _none_is_empty(value: Any) -> Any:
    return "" if value is None else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("give a reason: it goes into the apply's timeline")
    return value


ApplyId = Annotated[int, Field(ge=1, le=MAX_ID, description="An apply's id.")]
SeenText = Annotated[
    str,
    BeforeValidator(_none_is_empty),
    Field(max_length=MAX_SEEN),
    AfterValidator(_plain_text),
]
Reason = Annotated[
    str,
    Field(min_length=1, max_length=MAX_REASON, description="Why: written to the timeline."),
    AfterValidator(_plain_text),
    AfterValidator(_not_blank),
]


def _item_string(value: str) -> ReclaimItem:
    item = ReclaimItem.decode(value)
    if item is None:
        raise ValueError("expected '<id>:<state>:<short token>' with an id of 1..2**63-1")
    return item


class ActionIn(Schema):
    """What the operator saw of the apply, and why they act (refused if it changed)."""

    seen_state: SeenText = Field("", description="The apply's state as the operator saw it.")
    seen_token: SeenText = Field("", description="The lease token as shown (8 characters).")
    reason: Reason

    def seen(self) -> Seen:
        return Seen(self.seen_state, self.seen_token)


class BulkItemIn(Schema):
    id: ApplyId
    seen_state: SeenText = ""
    seen_token: SeenText = ""

    def item(self) -> ReclaimItem:
        return ReclaimItem(self.id, Seen(self.seen_state, self.seen_token))


BulkItemString = Annotated[
    str,
    Field(max_length=2 * MAX_SEEN + 21, description="'<id>:<state>:<short token>'"),
    AfterValidator(_plain_text),
]


class BulkIn(Schema):
    items: list[BulkItemIn | BulkItemString] = Field(
        min_length=1, max_length=MAX_BULK_ITEMS, description="The applies, each on its own."
    )
    reason: Reason

    @field_validator("items")
    @classmethod
    def _readable(cls, items: list[BulkItemIn | str]) -> list[BulkItemIn | str]:
        for entry in items:
            if isinstance(entry, str):
                _item_string(entry)
        return items

    def reclaim_items(self) -> list[ReclaimItem]:
        """Each item as the services take it."""
        return [
            entry.item() if isinstance(entry, BulkItemIn) else _item_string(entry)
            for entry in self.items
        ]


class ListQuery(Schema):
    """The list page's filters (``applies.filters.ApplyFilter``) and its keyset cursors."""

    q: str | None = Field(
        None, description="An id, the start of an apply identifier, or owner/repo#PR."
    )
    state: str | None = None
    engine: str | None = None
    environment: str | None = None
    database: str | None = None
    repository: str | None = None
    pull_request: int | None = Field(None, ge=0, le=2**32 - 1)
    deployment: str | None = None
    classification: str | None = Field(None, description="stale, wedged, needs_human, healthy")
    heartbeat: str | None = Field(None, description="fresh, stale, 15m or 1h")
    sort: Order = Field(
        Order.NEWEST, description="'created_at' for oldest first, '-created_at' for newest"
    )
    after: str | None = Field(None, description="The 'next' cursor of the previous page.")
    before: str | None = Field(None, description="The 'previous' cursor.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}.")
