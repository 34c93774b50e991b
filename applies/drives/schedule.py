"""A drive's schedule, kept on its row: take a due step, hold it, write its outcome.

Every write here is a compare-and-set on ternadmin's own database (SQLite or MariaDB alike, the
way django-q2's ORM broker takes a task): the row count says who won. Times are the database's
clock (``PreciseNow``), so runners on several nodes agree on what is due and when a hold ends
whatever their own clocks say.

- ``take_due``: the most overdue drive that is due and not held is taken by moving its step
  sequence on (``steps + 1``) and writing the holder and a short hold. Two loops racing for one
  row: one update matches, the other moves on to the next candidate. A row that still names a
  holder was never settled: that step's worker died or hung (killed at django-q2's timeout, out
  of memory, a segfault). The same update counts it as a step error, so a step that kills its
  worker every time ends the drive at ``TERNADMIN_DRIVE_MAX_ERRORS`` like any failing step,
  instead of being taken again forever while the heartbeats keep its apply from going stale.
- The hold lasts ``HOLD_BEATS`` heartbeat intervals and the holder renews it (``renew_hold``,
  from a heartbeat thread that does nothing else), so a step whose worker died is taken again
  once it lapses. A live step whose renewals stalled longer than that is taken too, and would
  then run twice under one lease, which no lease guard tells apart: ``confirm_hold`` is the
  fence a step passes right before each engine call that creates or changes something. The
  runner that took the drive over goes on; the first stops before its next engine write
  (``taken_over`` tells which).
- ``settle``: the step's outcome is written only while the row still names this holder and this
  step: a step that lost its hold, or a duplicate, writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet

from applies.dbclock import PreciseNow, SecondsUntil
from applies.models import Drive

Outcome = Drive.Outcome
HOLD_BEATS = 3
TAKE_CANDIDATES = 5  # due rows tried per take before giving up to racing peers


@dataclass(frozen=True)
class Taken:
    """A drive held for one step: ``drive`` as it stands once taken (``drive.steps`` is this
    step's number)."""

    drive: Drive
    holder: str
    lapsed: str = ""  # why the previous step never settled ("" when it did); counted already

    @property
    def step(self) -> int:
        return self.drive.steps


def hold_seconds() -> float:
    return float(HOLD_BEATS * settings.TERNADMIN_HEARTBEAT_SECONDS)


def running_on_loops() -> QuerySet[Drive]:
    return Drive.objects.filter(outcome=Outcome.RUNNING, runner=Drive.Runner.LOOPS)


def _not_held() -> Q:
    return Q(held_until__isnull=True) | Q(held_until__lt=PreciseNow())


def _due() -> QuerySet[Drive]:
    return running_on_loops().filter(next_due_at__lte=PreciseNow()).filter(_not_held())


def take_due(holder: str) -> Taken | None:
    """Take the most overdue due drive for one step, or None when nothing is due."""
    candidates = _due().order_by("next_due_at", "pk").values_list("pk", "steps", "held_by")
    for pk, steps, held_by in candidates[:TAKE_CANDIDATES]:
        rows = _due().filter(pk=pk, steps=steps, held_by=held_by)
        if not held_by:
            taken = _take(rows, pk, holder)
        else:
            lapsed = f"step {steps}'s worker died or hung (its hold by {held_by} lapsed)"
            errors = {"consecutive_errors": F("consecutive_errors") + 1, "last_error": lapsed}
            taken = _take(rows, pk, holder, lapsed=lapsed, **errors)
        if taken is not None:
            return taken
    return None


def take_foreground(drive_id: int, holder: str) -> Taken | None:
    """The next step of a foreground drive: a queued one starts (once: a second runner finds
    it taken), a running one goes on only under the holder that started it."""
    mine = Q(outcome=Outcome.QUEUED, held_by="") | Q(outcome=Outcome.RUNNING, held_by=holder)
    rows = Drive.objects.filter(pk=drive_id, runner=Drive.Runner.FOREGROUND).filter(mine)
    return _take(rows, drive_id, holder, outcome=Outcome.RUNNING)


def _take(
    rows: QuerySet[Drive], pk: int, holder: str, *, lapsed: str = "", **extra: Any
) -> Taken | None:
    updated = rows.update(
        held_by=holder, held_until=PreciseNow(hold_seconds()), steps=F("steps") + 1, **extra
    )
    return Taken(Drive.objects.get(pk=pk), holder, lapsed) if updated else None


def seconds_until_due() -> float | None:
    """Seconds until the earliest drive that is not held falls due (<= 0: due now), or None
    when no drive is running on the loops."""
    until = (
        running_on_loops()
        .filter(_not_held())
        .order_by("next_due_at")
        .annotate(until=SecondsUntil("next_due_at"))
        .values_list("until", flat=True)
        .first()
    )
    return None if until is None else float(until)


def _mine(taken: Taken) -> QuerySet[Drive]:
    return Drive.objects.filter(
        pk=taken.drive.pk, steps=taken.step, held_by=taken.holder, outcome=Outcome.RUNNING
    )


def renew_hold(taken: Taken) -> bool:
    """Push the hold of a step that is still running on; False when it is no longer ours."""
    return bool(_mine(taken).update(held_until=PreciseNow(hold_seconds())))


def taken_over(taken: Taken) -> bool:
    """Whether another runner has taken the drive since this step was taken."""
    return Drive.objects.filter(pk=taken.drive.pk, steps__gt=taken.step).exists()


def confirm_hold(taken: Taken) -> bool:
    """Whether the step still holds its drive, pushing the hold on when it does: the fence a
    step passes right before an engine call that creates or changes something. False once the
    drive was taken by another runner or ended, and for a loop's step once its hold lapsed (a
    loop may take it at any moment). A foreground drive is never taken by a loop, so only the
    row moving on can end its hold."""
    rows = _mine(taken)
    if taken.drive.runner == Drive.Runner.LOOPS:
        rows = rows.filter(held_until__gt=PreciseNow())
    return bool(rows.update(held_until=PreciseNow(hold_seconds())))


@dataclass(frozen=True)
class Settled:
    """A step's outcome, as the drive's row records it."""

    delay: float | None  # seconds until the next step; None once the drive has ended
    outcome: str = Outcome.RUNNING
    end_state: str = ""
    message: str = ""
    errors: int = 0  # consecutive step errors, this one included
    error: str = ""  # what went wrong in this step ("" when nothing did)
    unavailable: bool = False  # the error was a database refusing connections: waited out

    @property
    def ended(self) -> bool:
        return self.delay is None


def settle(taken: Taken, result: Settled) -> bool:
    """Write the step's outcome and release the hold; False (nothing written) when the row no
    longer names this holder and step: another runner took it, or it was ended meanwhile. A
    foreground drive stays its runner's between steps."""
    keeps = not result.ended and taken.drive.runner == Drive.Runner.FOREGROUND
    fields: dict[str, Any] = {
        "held_by": taken.holder if keeps else "",
        "held_until": None,
        "last_step_at": PreciseNow(),
        "consecutive_errors": result.errors,
    }
    if result.error:
        fields["last_error"] = result.error[:2000]
    if result.ended:
        fields.update(_ending(result.outcome, result.message, result.end_state))
    else:
        fields["next_due_at"] = PreciseNow(result.delay or 0.0)
    return bool(_mine(taken).update(**fields))


def end_drive(drive_id: int, outcome: str, message: str) -> bool:
    """End a running or queued drive from outside its steps (its lease was lost, or a new claim
    superseded it); False when it had already ended."""
    unfinished = Drive.objects.filter(pk=drive_id, outcome__in=(Outcome.RUNNING, Outcome.QUEUED))
    return bool(unfinished.update(held_by="", held_until=None, **_ending(outcome, message)))


def _ending(outcome: str, message: str, end_state: str = "") -> dict[str, Any]:
    fields: dict[str, Any] = {
        "outcome": outcome,
        "message": message[:2000],
        "finished_at": PreciseNow(),
        "next_due_at": None,
    }
    if end_state:
        fields["end_state"] = end_state
    return fields
