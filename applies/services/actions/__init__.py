"""People's recovery actions on an apply, and the one table of them: ``ACTIONS``.

Each action has a name, the service that takes it, its title, the permission it needs and
when it is possible. The console's pages and the API (``applies.views``, ``applies.api.views``)
read this table, so a page offers exactly what its service accepts and both answer alike.

Every action carries what the operator saw (``applies.services.seen.Seen``) and is refused,
writing nothing, when the apply is no longer so: the driver came back, or the apply moved on
(``applies.services.errors``). Each runs in one transaction on SchemaBot's database with the
apply row locked, and writes one ``apply_logs`` row (source ``ternadmin``, who, why) with the
change it describes. ``reclaim`` claims with the sweep's rules and starts a recovery drive
(``reclaim``); ``request_stop`` and ``request_start`` write SchemaBot's control requests
(``requests``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from applies.classify import Classification
from applies.models import Apply, ApplyControlRequest
from applies.roles import OPERATE_PERMISSION
from applies.services.actions.base import Action, ActionResult
from applies.services.actions.reclaim import (
    bulk_reclaim,
    claim_for_operator,
    reclaim,
    reclaim_refusal,
)
from applies.services.actions.requests import (
    OPERATIONS,
    STATE_REFUSALS,
    request_start,
    request_stop,
)
from applies.vocabulary import RequestStatus

__all__ = [
    "ACTIONS",
    "Action",
    "ActionResult",
    "ActionSpec",
    "Possible",
    "Situation",
    "bulk_reclaim",
    "claim_for_operator",
    "possible_now",
    "reclaim",
    "request_start",
    "request_stop",
]


@dataclass(frozen=True)
class Possible:
    """Whether an action is offered now, and why (not), in a sentence."""

    allowed: bool
    why: str


@dataclass(frozen=True)
class Situation:
    """What decides whether an action is possible: the apply (annotated for ``classify``), its
    classification and its control requests."""

    apply: Apply
    classification: Classification
    requests: list[ApplyControlRequest]


@dataclass(frozen=True)
class ActionSpec:
    action: Action
    title: str
    service: Callable[..., ActionResult]  # (apply_id, *, actor, reason, seen) -> ActionResult
    permission: str
    possible: Callable[[Situation], Possible]


def _sentence(refusal: str) -> str:
    """A service's refusal as a sentence (ternadmin's name stays lower-case)."""
    if not refusal.startswith("ternadmin"):
        refusal = refusal[:1].upper() + refusal[1:]
    return refusal + "."


def _reclaim_possible(now: Situation) -> Possible:
    refusal = reclaim_refusal(now.apply)
    if refusal is not None:
        return Possible(False, _sentence(refusal))
    verdict = now.classification
    # Claimable, but perhaps only by SchemaBot's operator (the reason says why).
    return Possible(verdict.stuck and verdict.claimed_by == "ternadmin", verdict.reason)


def _request_possible(action: Action, why: str) -> Callable[[Situation], Possible]:
    """Possible in the states its service accepts, unless one is pending already."""
    operation = OPERATIONS[action]

    def possible(now: Situation) -> Possible:
        refusal = STATE_REFUSALS[action](now.apply)
        if refusal is not None:
            return Possible(False, _sentence(refusal))
        for request in now.requests:
            if request.operation == operation and request.status == RequestStatus.PENDING:
                return Possible(False, f"A {operation} request is already pending.")
        return Possible(True, why)

    return possible


ACTIONS: dict[Action, ActionSpec] = {
    spec.action: spec
    for spec in (
        ActionSpec(Action.RECLAIM, "Reclaim", reclaim, OPERATE_PERMISSION, _reclaim_possible),
        ActionSpec(
            Action.STOP,
            "Request stop",
            request_stop,
            OPERATE_PERMISSION,
            _request_possible(Action.STOP, "Asks the driver to stop at a safe point."),
        ),
        ActionSpec(
            Action.START,
            "Request start",
            request_start,
            OPERATE_PERMISSION,
            _request_possible(Action.START, "A start request lets a claim resume it."),
        ),
    )
}


def possible_now(now: Situation) -> dict[Action, Possible]:
    """Whether each action is offered for the apply now, and why (not)."""
    return {action: spec.possible(now) for action, spec in ACTIONS.items()}
