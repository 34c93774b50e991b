"""The drive-loop slots: how many loops run, and making sure each one does.

``TERNADMIN_DRIVE_LOOPS`` slots (``DriveLoop`` rows), each run by one django-q2 task at a time:
``drive_loop(slot, generation)``. The count is bounded by the scheduler's workers, less one kept
free for the sweep, so concurrency, processes and database connections depend on configuration
only, never on how many applies are in flight. With several nodes on one Redis broker the slots
are shared: a loop runs on whichever node's worker takes its task.

Every transition is a compare-and-set on the slot's row, by ternadmin's database clock:

- ``start_loops`` (the sweep, every live loop's heartbeat, a new drive): a slot nobody proved
  alive lately (never started, worker killed, task lost) moves to its next generation and that
  generation is enqueued.
- ``begin``: a delivered loop takes its slot by writing its holder, only if the slot is still
  at its generation and not yet taken. The broker delivers at least once (the ORM broker again
  after ``retry``), and a late or second delivery finds the slot taken or moved on and exits.
- ``renew``: the loop's heartbeat pushes ``alive_until`` on; False means the slot moved on (it
  looked dead and was re-enqueued), and the loop stops.
- ``hand_over``: a loop at the end of its time budget moves the slot to the next generation and
  enqueues it, so no loop outlives django-q2's ``timeout``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db.models import Q, QuerySet
from django_q.tasks import async_task

from applies.dbclock import PreciseNow
from applies.models import DriveLoop

logger = logging.getLogger(__name__)
LOOP_TASK = "applies.tasks.drive_loop"
ALIVE_BEATS = 3  # a loop that missed this many heartbeats looks dead

Enqueue = Callable[[int, int], None]


def loop_count() -> int:
    """How many loops should run (none unless drives run on the loops)."""
    return int(settings.TERNADMIN_DRIVE_LOOPS) if settings.TERNADMIN_DRIVE_MODE == "loops" else 0


def alive_seconds() -> float:
    return float(ALIVE_BEATS * settings.TERNADMIN_HEARTBEAT_SECONDS)


def enqueued_seconds() -> float:
    """How long an enqueued loop may take to start before it looks lost: a worker frees up at
    the latest when a sweep pass ends."""
    return float(settings.TERNADMIN_SWEEP_TIME_BUDGET_SECONDS) + alive_seconds()


def enqueue_loop(slot: int, generation: int) -> None:
    async_task(
        LOOP_TASK,
        slot,
        generation,
        q_options={"task_name": f"drive-loop-{slot}-{generation}", "save": False},
    )


def _slot(slot: int, generation: int) -> QuerySet[DriveLoop]:
    return DriveLoop.objects.filter(slot=slot, generation=generation)


def _dead() -> Q:
    return Q(alive_until__isnull=True) | Q(alive_until__lt=PreciseNow())


def start_loops(enqueue: Enqueue = enqueue_loop) -> list[int]:
    """Enqueue a new generation for every configured slot without a live loop; the slots."""
    count = loop_count()
    if count == 0:
        return []
    known = set(DriveLoop.objects.filter(slot__lt=count).values_list("slot", flat=True))
    if len(known) < count:
        missing = [DriveLoop(slot=slot) for slot in range(count) if slot not in known]
        DriveLoop.objects.bulk_create(missing, ignore_conflicts=True)
    dead = DriveLoop.objects.filter(slot__lt=count).filter(_dead())
    started = []
    for slot, generation in dead.values_list("slot", "generation"):
        if _advance(_slot(slot, generation).filter(_dead()), generation, enqueue, slot):
            started.append(slot)
    if started:
        logger.info("drive loops enqueued for slot(s) %s", ", ".join(map(str, started)))
    return started


def _advance(rows: QuerySet[DriveLoop], generation: int, enqueue: Enqueue, slot: int) -> bool:
    moved = rows.update(
        generation=generation + 1,
        holder="",
        alive_until=PreciseNow(enqueued_seconds()),
        enqueued_at=PreciseNow(),
        started_at=None,
        steps=0,
    )
    if moved:
        enqueue(slot, generation + 1)
    return bool(moved)


def begin(slot: int, generation: int, holder: str) -> bool:
    """Take the slot for this delivery of its generation; False: not the live one, exit."""
    rows = _slot(slot, generation).filter(holder="")
    return bool(
        rows.update(holder=holder, alive_until=PreciseNow(alive_seconds()), started_at=PreciseNow())
    )


def renew(slot: int, generation: int, holder: str, steps: int) -> bool:
    """Prove the loop alive; False once the slot has moved on without it."""
    rows = _slot(slot, generation).filter(holder=holder)
    return bool(rows.update(alive_until=PreciseNow(alive_seconds()), steps=steps))


def quiet_slots(within: float) -> set[int]:
    """The configured slots whose loop has not proved alive within the last ``within`` seconds:
    dead, stalled, between generations or never started."""
    count = loop_count()
    proved_since = PreciseNow(alive_seconds() - within)  # a renewal pushes alive_until this far
    recent = DriveLoop.objects.filter(slot__lt=count, alive_until__gte=proved_since).exclude(
        holder=""
    )
    return set(range(count)) - set(recent.values_list("slot", flat=True))


def hand_over(slot: int, generation: int, holder: str, enqueue: Enqueue = enqueue_loop) -> bool:
    """Pass the slot to the next generation and enqueue it (False: it had moved on already, or
    the slot is no longer configured and is left to lapse)."""
    if slot >= loop_count():
        return False
    return _advance(_slot(slot, generation).filter(holder=holder), generation, enqueue, slot)
