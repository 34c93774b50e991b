"""Reclaim: an operator claims an apply now, exactly as the sweep would, and hands the claim to
a recovery drive.

The claim is ``claims.claim_apply`` (the sweep's rules and engines), made in one transaction
with the apply row locked and re-checked against what the operator saw, and audited in the same
transaction. The drive starts after the commit, so no lock is held while it does. A stopped
apply restarts under SchemaBot's target lock (docs/schemabot.md, "The target lock").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext

from applies import db
from applies.claims import ApplyClaim, claim_apply
from applies.classify import Verdict, classify
from applies.drives import launch_drive
from applies.durations import duration
from applies.engines import driven_engines, drives_engine, not_driven_reason
from applies.lines import current_line
from applies.models import Apply, ApplyOperation
from applies.redact import redact, short_token
from applies.services.actions.base import Action, ActionResult, check_seen, read_apply
from applies.services.audit import audit
from applies.services.errors import Refusal, Refused, require_who_and_why
from applies.services.seen import ReclaimItem, Seen
from applies.states import ApplyState
from applies.target_lock import other_active_apply_exists, target_lock
from applies.vocabulary import LogEvent

logger = logging.getLogger(__name__)

CONSOLE_TRIGGER = "console"


def console_owner(actor: str) -> str:
    """The lease owner of a claim an operator makes."""
    return f"ternadmin-console/{actor}"[:255]


def reclaim_refusal(apply: Apply) -> str | None:
    """Why ternadmin cannot drive the apply's engine, or ``None`` when it can."""
    return None if drives_engine(apply.engine) else not_driven_reason(apply.engine)


def reclaim(apply_id: int, *, actor: str, reason: str, seen: Seen | None) -> ActionResult:
    """Claim the apply now, as the sweep would, and start its recovery drive.

    Raises ``Refused`` (nothing written) as ``claim_for_operator`` does.
    """
    claim = claim_for_operator(apply_id, actor=actor, reason=reason, seen=seen)
    return _drive(claim, actor)


def claim_for_operator(
    apply_id: int, *, actor: str, reason: str, seen: Seen | None, owner: str = ""
) -> ApplyClaim:
    """Claim the apply by id, as the sweep would, and audit it; the claim (not yet driven).

    ``seen`` is what the operator saw of it, refused when the apply is no longer so; ``None``
    for an operator who names only the id (a command line). ``owner``: the lease owner, by
    default the operator's (``console_owner``). Raises ``Refused`` (nothing written) when the
    apply is missing, changed since it was seen, of an engine or shape ternadmin cannot drive,
    or not claimable now.
    """
    require_who_and_why(actor, reason)
    row = read_apply(apply_id)
    if seen is not None:
        check_seen(row, seen)
    _require_driver(row)
    with _transaction(row):
        locked = read_apply(apply_id, lock=True)
        if seen is not None:
            check_seen(locked, seen)
        claim = claim_apply(apply_id, owner or console_owner(actor), engines=driven_engines())
        if claim is None:
            raise Refused(_why_not_claimable(apply_id), code=Refusal.NOT_CLAIMABLE)
        audit(
            apply_id,
            actor=actor,
            message=f"Reclaimed by operator from {claim.previous_state}",
            event=LogEvent.INFO,
            old_state=claim.previous_state,
            new_state=claim.apply.state,
            reason=reason,
            new_lease=short_token(claim.lease.token),
            clause=claim.clause.value,
            owner=claim.lease.owner,
        )
    return claim


def bulk_reclaim(items: Iterable[ReclaimItem], *, actor: str, reason: str) -> list[ActionResult]:
    """Reclaim each apply on its own (each atomic); refusals are reported, not raised."""
    results = []
    for item in items:
        try:
            results.append(reclaim(item.apply_id, actor=actor, reason=reason, seen=item.seen))
        except Refused as refused:
            results.append(ActionResult.refused(item.apply_id, Action.RECLAIM, refused))
    return results


def _require_driver(apply: Apply) -> None:
    refusal = reclaim_refusal(apply)
    if refusal is not None:
        raise Refused(refusal, code=Refusal.NO_DRIVER)
    operations = ApplyOperation.objects.filter(apply_id=apply.pk)
    if len(operations.values_list("pk", flat=True)[:2]) > 1:
        raise Refused(
            "ternadmin has no driver for a multi-operation apply: SchemaBot's own operator "
            "claims it",
            code=Refusal.NO_DRIVER,
        )


@contextmanager
def _transaction(apply: Apply) -> Iterator[None]:
    """A transaction on SchemaBot's database; a stopped apply's target lock is taken first.

    Restarting a stopped apply must commit under SchemaBot's target lock. ``claim_apply``
    takes it too; MariaDB/MySQL named locks nest within a session, so holding it here keeps it
    until after the commit, and the lock order (named lock, then row) is SchemaBot's.
    """
    guard = (
        target_lock(apply.database_name, apply.database_type, apply.environment)
        if apply.state == ApplyState.STOPPED
        else nullcontext()
    )
    with guard, db.atomic():
        yield


def _why_not_claimable(apply_id: int) -> str:
    apply = read_apply(apply_id)
    verdict = classify(apply)
    if verdict.classification is Verdict.HEALTHY and current_line().claimable(apply.state):
        left = verdict.claimable_in_seconds
        return (
            f"heartbeat is fresh ({duration(verdict.heartbeat_age_seconds)}): a driver holds it; "
            f"if it stops, it becomes claimable in {duration(left)}"
        )
    if apply.state == ApplyState.STOPPED and other_active_apply_exists(apply, current_line()):
        return (
            "start refused: another active apply exists for "
            f"{apply.database_name}/{apply.database_type}/{apply.environment}"
        )
    if verdict.classification is Verdict.CLAIMABLE_NOW:
        return "another claimer holds the row right now; reload in a moment"
    return f"not claimable now: {verdict.reason}"


def _drive(claim: ApplyClaim, actor: str) -> ActionResult:
    apply, token = claim.apply, short_token(claim.lease.token)
    done = f"Reclaimed {apply.apply_identifier} from {claim.previous_state} (lease {token})"
    try:
        drive = launch_drive(claim, trigger=CONSOLE_TRIGGER, requested_by=actor)
    except Exception as exc:
        # The claim stands; without a drive its heartbeat goes stale and the sweep takes it.
        logger.exception("could not start the drive of apply %s", apply.pk)
        return ActionResult.of(
            apply,
            Action.RECLAIM,
            f"{done}, but its drive could not be started "
            f"({redact(str(exc)) or type(exc).__name__}); the sweep will reclaim it "
            "once its heartbeat is stale.",
        )
    return ActionResult.of(
        apply, Action.RECLAIM, f"{done}; recovery drive {drive.pk} started.", drive_id=drive.pk
    )
