"""The mass-staleness brake: when many drivers die at once, stop reclaiming and ask a person.

If at least ``TERNADMIN_BRAKE_MIN_STALE`` applies, and more than ``TERNADMIN_BRAKE_STALE_SHARE``
of the active ones (of the engines ternadmin drives), are stale at the same time, the cause is
almost never the applies: a database failover, a clock jump, a bad deploy of the drivers.
Reclaiming them all would start hundreds of drives against production at once. The sweep then
claims nothing and says why, until an operator releases the brake; after a release it does not
trip again for ``TERNADMIN_BRAKE_COOLDOWN_SECONDS``, so the released backlog can drain. The
cooldown is the database's clock, like staleness: a sweep on a host whose clock is off by an
hour must neither cut it short nor stretch it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from applies.classify import Classification, Verdict
from applies.clauses import Clause
from applies.dbclock import PreciseNow
from applies.engines import drives_engine
from applies.lines import current_line
from applies.models import Brake

BRAKE_ID = 1


@dataclass(frozen=True)
class BrakeState:
    engaged: bool
    reason: str
    stale: int
    active: int
    changed_by: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def current() -> Brake:
    brake, _ = Brake.objects.get_or_create(pk=BRAKE_ID)
    return brake


def census(classified: list[Classification]) -> tuple[int, int]:
    """(stale, active) among the applies ternadmin would reclaim: engines it drives, in a
    state a driver should be working on right now. Applies ternadmin leaves to SchemaBot's
    operator (other engines, multi-operation rollouts) never start a drive here, so they
    cannot start a storm either."""
    line = current_line()
    driven = [c for c in classified if drives_engine(c.engine) and line.claimable(c.state)]
    stale = sum(
        1
        for c in driven
        if c.classification is Verdict.CLAIMABLE_NOW
        and c.clause is Clause.STALE_ACTIVE
        and c.claimed_by == "ternadmin"
    )
    return stale, len(driven)


def evaluate(classified: list[Classification], *, dry_run: bool, owner: str) -> BrakeState:
    stale, active = census(classified)
    brake = current()
    if brake.engaged:
        return BrakeState(True, brake.reason, stale, active, brake.changed_by)
    trips = (
        stale >= settings.TERNADMIN_BRAKE_MIN_STALE
        and active > 0
        and stale / active > settings.TERNADMIN_BRAKE_STALE_SHARE
        and not _cooling_down(brake)
    )
    if not trips:
        return BrakeState(False, "", stale, active)
    reason = (
        f"{stale} of {active} active applies went stale at once (more than "
        f"{settings.TERNADMIN_BRAKE_STALE_SHARE:.0%}): a failover, a clock jump or a bad driver "
        "deploy is likelier than {stale} separate crashes. Automatic reclaim is paused until "
        "someone releases the brake."
    ).replace("{stale}", str(stale))
    if not dry_run:
        engage(reason, by=owner)
    return BrakeState(True, reason, stale, active, owner)


def _cooling_down(brake: Brake) -> bool:
    if brake.engaged:
        return False
    cooldown = settings.TERNADMIN_BRAKE_COOLDOWN_SECONDS
    return Brake.objects.filter(pk=brake.pk, changed_at__gt=PreciseNow(-cooldown)).exists()


def engage(reason: str, *, by: str) -> None:
    with transaction.atomic():
        brake = Brake.objects.select_for_update().get_or_create(pk=BRAKE_ID)[0]
        if not brake.engaged:
            _change(brake, engaged=True, reason=reason, by=by)


def release(*, by: str) -> bool:
    """Release the brake; whether it was engaged."""
    with transaction.atomic():
        brake = Brake.objects.select_for_update().get_or_create(pk=BRAKE_ID)[0]
        if not brake.engaged:
            return False
        _change(brake, engaged=False, reason=f"released by {by}", by=by)
    return True


def _change(brake: Brake, *, engaged: bool, reason: str, by: str) -> None:
    """Engage or release, stamped with the database's clock (the cooldown is measured by it)."""
    Brake.objects.filter(pk=brake.pk).update(
        engaged=engaged, reason=reason, changed_at=PreciseNow(), changed_by=by
    )
