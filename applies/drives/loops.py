"""A drive loop: healthchecks' one-row step in a dumb loop, on a django-q2 worker.

``drive_loop(slot, generation)`` (the task ``applies.tasks.drive_loop``) takes its slot
(``slots.begin``: a duplicate delivery exits here), then until its time budget runs out:
take the most overdue due drive (``schedule.take_due``), run one step of it (``step.step_once``),
and when nothing is due sleep until the earliest due time (at most ``IDLE_SECONDS``). The
budget is half of django-q2's ``timeout``, so a loop always ends well before the cluster would
kill it; it then hands its slot to the next generation and enqueues it (``slots.hand_over``).
django-q2's own scheduler only looks every 30 s or so, which is why loops, not delayed tasks,
pace the steps.

While it runs, its heartbeat (``LoopHeartbeat``) beats every ``TERNADMIN_HEARTBEAT_SECONDS`` on
two threads: one proves the slot alive and renews the hold of the step running now, the other
heartbeats its share of the drives' leases (``heartbeats.beat``) and re-enqueues any slot whose
loop died. A loop also stops early, after the step at hand, when its slot moved on without it,
when a heartbeat thread is gone, when its worker is asked to stop (SIGINT or SIGTERM) or when
its cluster's sentinel is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

from applies import db
from applies.drives import heartbeats, slots
from applies.drives.schedule import Taken, renew_hold, seconds_until_due, take_due, taken_over
from applies.drives.step import step_once
from applies.engines import Drivers
from applies.owners import owner_id

logger = logging.getLogger(__name__)
IDLE_SECONDS = 1.0  # a loop with nothing due looks again at least this often
Jobs = tuple[tuple[str, Callable[[], object]], ...]  # what one heartbeat does, each named
UNAVAILABLE_BACKOFF_CAP = 30.0


def loop_budget() -> float:
    """Seconds a loop runs before handing over: half of django-q2's ``timeout``."""
    return float(settings.Q_TIMEOUT) / 2


def drive_loop(
    slot: int, generation: int, *, budget: float | None = None, drivers: Drivers | None = None
) -> dict[str, Any]:
    """Run the loop of ``slot`` for one generation; a small report for the task's result.
    ``budget`` and ``drivers`` default to half the task timeout and the engines' drivers."""
    holder = f"{owner_id(f'loop-{slot}')}#{generation}"
    report: dict[str, Any] = {"slot": slot, "generation": generation, "holder": holder}
    if slot >= slots.loop_count() or not slots.begin(slot, generation, holder):
        logger.info("drive loop %s#%s: not the live one; exiting", slot, generation)
        return {**report, "skipped": True}
    loop = Loop(slot, generation, holder)
    logger.info("drive loop %s#%s started as %s", slot, generation, holder)
    try:
        loop.run(loop_budget() if budget is None else budget, drivers or Drivers())
    finally:
        handed = slots.hand_over(slot, generation, holder)
        # A worker between loops holds no connection: SchemaBot's database sees at most two per
        # running loop (its steps, its heartbeat), whatever ran on the worker before.
        connections.close_all()
    logger.info(
        "drive loop %s#%s stopped (%s) after %s steps%s",
        slot,
        generation,
        loop.stopped_because,
        loop.steps,
        "; next generation enqueued" if handed else "",
    )
    return {**report, "steps": loop.steps, "stopped": loop.stopped_because, "handed": handed}


class Loop:
    def __init__(self, slot: int, generation: int, holder: str) -> None:
        self.slot, self.generation, self.holder = slot, generation, holder
        self.steps = 0
        self.current: Taken | None = None
        self.stop = threading.Event()  # set to end the loop after the step at hand
        self.stopped_because = ""
        self._parent = os.getppid()
        self._unavailable = 0

    def run(self, budget: float, drivers: Drivers) -> None:
        deadline = time.monotonic() + budget
        with drivers, _StopSignals(self), LoopHeartbeat(self) as heartbeat:
            while not self._should_stop(deadline, heartbeat):
                self._once(drivers)
        self.stopped_because = self.stopped_because or "budget"

    def _should_stop(self, deadline: float, heartbeat: LoopHeartbeat) -> bool:
        if os.getppid() != self._parent:
            self.halt("the cluster's sentinel is gone")
        if not heartbeat.alive:
            # Nothing renews the slot, the step hold or the leases any more: the next
            # generation, enqueued by the hand-over, starts with a heartbeat of its own.
            self.halt("its heartbeat thread died")
        if time.monotonic() >= deadline:
            return True
        return self.stop.is_set()

    def halt(self, why: str) -> None:
        if not self.stop.is_set():
            self.stopped_because = why
            self.stop.set()

    def _once(self, drivers: Drivers) -> None:
        try:
            taken = take_due(self.holder)
            if taken is None:
                self._idle()
                return
            self.current = taken
            result = step_once(taken, drivers)
            self.steps += 1
            if result.unavailable:
                self._back_off()
            else:
                self._unavailable = 0
        except Exception as exc:  # ternadmin's own database: wait, then carry on
            logger.warning("drive loop %s: %s: %s", self.slot, type(exc).__name__, exc)
            if db.unavailable(exc):
                self._back_off()
            else:
                self.stop.wait(IDLE_SECONDS)
        finally:
            self.current = None
            close_old_connections()

    def _idle(self) -> None:
        until = seconds_until_due()
        wait = IDLE_SECONDS if until is None else min(IDLE_SECONDS, max(until, 0.01))
        self.stop.wait(wait)

    def _back_off(self) -> None:
        """A database refuses connections: every step would fail the same way, so the whole
        loop waits, a little longer each time."""
        self._unavailable += 1
        self.stop.wait(min(UNAVAILABLE_BACKOFF_CAP, 2.0 ** (self._unavailable - 1)))


class LoopHeartbeat:
    """The loop's heartbeat: two threads, each beating at once and then every
    ``TERNADMIN_HEARTBEAT_SECONDS``.

    - ``hold``: proves the slot alive and renews the hold of the step running now, two one-row
      updates on ternadmin's own database. Nothing else runs on this thread, so a lease beat
      held up in SchemaBot's database (a row-lock wait, a slow server) cannot let the hold lapse
      under a live step, which another loop would then take and run a second time.
    - ``leases``: heartbeats the leases of the drives this loop beats (``heartbeats.beat``) and
      re-enqueues any slot whose loop died.
    """

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.interval = float(settings.TERNADMIN_HEARTBEAT_SECONDS)
        self._done = threading.Event()
        self._lost: Taken | None = None  # the step last reported as taken over
        beats: dict[str, Jobs] = {
            "hold": (("slot", self._renew_slot), ("hold", self._renew_hold)),
            "leases": (
                ("drives", lambda: heartbeats.beat(heartbeats.loop_leases(loop.slot))),
                ("siblings", slots.start_loops),
            ),
        }
        self._threads = [
            threading.Thread(
                target=self._run, args=(name, jobs), name=f"drive-loop-{loop.slot}-{name}"
            )
            for name, jobs in beats.items()
        ]

    def __enter__(self) -> LoopHeartbeat:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join()

    @property
    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    def _run(self, name: str, jobs: Jobs) -> None:
        try:
            while True:
                self.beat(name, jobs)
                if self._done.wait(self.interval):
                    return
        except BaseException:
            logger.exception("drive loop %s: its %s heartbeat thread died", self.loop.slot, name)
            raise
        finally:
            connections.close_all()

    def beat(self, name: str, jobs: Jobs) -> None:
        """One beat; never raises, so that no failure ends the thread while the loop steps on
        with nothing renewed."""
        every: Jobs = (*jobs, ("connections", close_old_connections))
        for what, job in every:
            try:
                job()
            except Exception as exc:  # the window decides; the next beat tries again
                logger.warning(
                    "drive loop %s %s heartbeat (%s): %s", self.loop.slot, name, what, exc
                )

    def _renew_slot(self) -> None:
        loop = self.loop
        if not self.alive:
            # The lease thread is gone: let the slot look dead, so that the other loops beat
            # its share of the drives while the step at hand finishes.
            return
        if not slots.renew(loop.slot, loop.generation, loop.holder, loop.steps):
            loop.halt("its slot moved on to another generation")

    def _renew_hold(self) -> None:
        current = self.loop.current
        if current is None or renew_hold(current) or current is self._lost:
            return
        if taken_over(current):  # not just settled or ended meanwhile
            self._lost = current
            drive = current.drive
            logger.error(
                "drive loop %s: drive %s (apply %s) step %s was taken over by another runner "
                "while it still runs here (its hold lapsed: renewals stalled); it issues no "
                "more engine calls and its outcome will not be written",
                self.loop.slot,
                drive.pk,
                drive.apply_id,
                current.step,
            )


class _StopSignals:
    """SIGINT and SIGTERM end the loop after the step at hand (the worker then exits cleanly,
    its slot handed over), where the worker would otherwise ignore or die of them. Only in the
    main thread, where Python lets a handler be set; restored afterwards."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.loop.halt(f"signal {signal.Signals(signum).name}")
