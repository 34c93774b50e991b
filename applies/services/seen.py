"""What a person saw of an apply when they chose to act on it, carried back with the action.

Every action and fix is a compare-and-set against this value: refused, writing nothing, when
the apply is no longer as the person saw it (``applies.services.errors.RowChanged``). The
lease token is carried as pages show it, shortened (``redact.short_token``), and an apply that
holds no lease has the empty token: never the dash a page prints in its place, which would be
read back as a token the apply does not have.

Pages carry it in three forms, all written and read here: hidden form fields (``seen_state``,
``seen_token``), a link's query string (``?state=…&token=…``) and a bulk item
(``<id>:<state>:<token>``, the dashboard's check boxes and the API's bulk body).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from applies.inputs import MAX_SEEN, parse_id, text_problem
from applies.models import Apply
from applies.redact import short_token


@dataclass(frozen=True)
class Seen:
    state: str
    token: str = ""  # shortened on the way in: the part of the lease token people see
    heartbeat: datetime | None = None  # ``updated_at``: fixes compare it, actions do not

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", short_token(self.token))

    @classmethod
    def of(cls, apply: Apply) -> Seen:
        """The apply as a page shows it now."""
        return cls(apply.state, apply.lease_token, apply.updated_at)

    def same_lease(self, apply: Apply) -> bool:
        return self.token == short_token(apply.lease_token)

    def same_state(self, apply: Apply) -> bool:
        return self.state == apply.state

    def query(self) -> str:
        """The query string of a link to an action's confirmation page."""
        return urlencode({"state": self.state, "token": self.token})


def seen_value_ok(value: str) -> bool:
    """A state or short token as sent back: short, and plain text."""
    return len(value) <= MAX_SEEN and text_problem(value) is None


@dataclass(frozen=True)
class ReclaimItem:
    """One apply of a bulk reclaim, with what the operator saw of it."""

    apply_id: int
    seen: Seen

    @classmethod
    def of(cls, apply: Apply) -> ReclaimItem:
        return cls(apply.pk, Seen.of(apply))

    def encode(self) -> str:
        return f"{self.apply_id}:{self.seen.state}:{self.seen.token}"

    @classmethod
    def decode(cls, value: str) -> ReclaimItem | None:
        """``<id>:<state>:<short token>``; ``None`` for anything else (an id out of range, an
        overlong or unstorable state or token)."""
        head, _, token = value.rpartition(":")
        pk, _, state = head.partition(":")
        apply_id = parse_id(pk) if head else None
        if apply_id is None or not seen_value_ok(state) or not seen_value_ok(token):
            return None
        return cls(apply_id, Seen(state, token))
