"""Why an action or a fix was refused: one hierarchy for every write people make.

A refusal has written nothing. ``message`` is for people (the console shows it after
"Reclaim refused:", the admin as it stands); ``code`` is for scripts (the API answers it as its
error code, with a status from ``applies.api.errors``).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why, in one word: the API's error codes of a refused action."""

    NOT_FOUND = "not_found"
    CHANGED = "changed"  # the row is not as the person saw it (state, lease, heartbeat)
    NOT_ALLOWED = "not_allowed"  # the action makes no sense for the row as it is
    NO_DRIVER = "no_driver"
    NOT_CLAIMABLE = "not_claimable"
    INVALID = "invalid"  # missing reason or actor


class Refused(Exception):
    """The action or fix was not taken and nothing was written."""

    default_code = Refusal.NOT_ALLOWED

    def __init__(self, message: str, *, code: Refusal | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: Refusal = code or self.default_code


class RowChanged(Refused):
    """The apply is not as the person saw it: they reload and decide again."""

    default_code = Refusal.CHANGED


class LiveDriver(Refused):
    """The apply's heartbeat is fresh: ending its driver's work needs an explicit confirmation."""


def require_who_and_why(actor: str, reason: str) -> None:
    """Every action and fix names who takes it and why: both go into the apply's timeline."""
    if not actor.strip():
        raise Refused(
            "every action needs the name of who takes it; nothing was written",
            code=Refusal.INVALID,
        )
    if not reason.strip():
        raise Refused(
            "every action needs a reason (it goes into the apply's timeline); nothing was written",
            code=Refusal.INVALID,
        )
