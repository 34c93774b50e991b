"""The drive loops in process, on MariaDB: slots, duplicate deliveries, hand-over, heartbeats
that go on while a step is slow. (Loops on real clusters: tests/test_sweep_cluster.py and
tests/test_drive_nodes.py.)"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connections
from django.db.models import F
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from applies.dbclock import AgeSeconds, PreciseNow
from applies.drives import heartbeats, loops, slots
from applies.drives.loops import drive_loop
from applies.engines.base import Next, StepSuperseded, finished, poll_after, run_now
from applies.leases import Lease
from applies.models import Apply, Drive, DriveLoop
from applies.states import ApplyState
from tests.drive_fixtures import ScriptedFactory, claimed_drive, drive_row, sequence, still_mine
from tests.factories import set_heartbeat_age

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

A = ApplyState
Outcome = Drive.Outcome


@pytest.fixture(autouse=True)
def _loops(settings: Any) -> None:
    settings.TERNADMIN_DRIVE_MODE = "loops"
    settings.TERNADMIN_DRIVE_LOOPS = 2
    settings.TERNADMIN_HEARTBEAT_SECONDS = 1
    settings.TERNADMIN_SWEEP_TIME_BUDGET_SECONDS = 5


def enqueued() -> list[tuple[int, int]]:
    """(slot, generation) of every drive loop waiting in the ORM broker's queue."""
    tasks = [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("id")]
    return [tuple(task["args"]) for task in tasks if task["func"] == slots.LOOP_TASK]


def apply_age(apply_id: int) -> int:
    apply = Apply.objects.using("schemabot").annotate(age=AgeSeconds("updated_at"))
    return int(apply.get(pk=apply_id).age)


def test_start_loops_enqueues_each_slot_once_until_its_loop_looks_dead() -> None:
    assert slots.start_loops() == [0, 1]
    assert enqueued() == [(0, 1), (1, 1)]
    assert slots.start_loops() == []  # enqueued a moment ago: given time to start
    assert slots.begin(0, 1, "node-a/1/loop-0#1")

    DriveLoop.objects.update(alive_until=PreciseNow(-1))  # neither proved itself alive

    assert slots.start_loops() == [0, 1]
    assert enqueued()[-2:] == [(0, 2), (1, 2)]
    assert not slots.renew(0, 1, "node-a/1/loop-0#1", steps=0)  # the old one must stop


def test_a_loop_steps_due_drives_to_their_end_then_hands_over() -> None:
    drives = [claimed_drive() for _ in range(3)]
    slots.start_loops(enqueue=lambda slot, generation: None)
    factory = ScriptedFactory(sequence(run_now(), poll_after(0.05), finished(A.COMPLETED)))

    report = drive_loop(0, 1, budget=3, drivers=factory.drivers())

    assert [drive_row(d).outcome for d in drives] == [Outcome.COMPLETED] * 3
    assert report["steps"] == 9 and report["stopped"] == "budget" and report["handed"]
    assert sorted(apply_id for apply_id, _ in factory.steps) == sorted(
        [d.apply_id for d in drives] * 3
    )
    assert factory.closed
    loop = DriveLoop.objects.get(slot=0)
    assert (loop.generation, loop.holder) == (2, "") and (0, 2) in enqueued()


def test_a_second_delivery_or_an_old_generation_does_nothing() -> None:
    slots.start_loops(enqueue=lambda slot, generation: None)
    drive = claimed_drive()
    factory = ScriptedFactory(sequence(poll_after(60)))
    assert slots.begin(0, 1, "node-a/7/loop-0#1")  # the first delivery runs elsewhere

    again = drive_loop(0, 1, budget=2, drivers=factory.drivers())
    old = drive_loop(0, 0, budget=2, drivers=factory.drivers())
    unknown = drive_loop(5, 1, budget=2, drivers=factory.drivers())

    assert again["skipped"] and old["skipped"] and unknown["skipped"]
    assert factory.steps == [] and drive_row(drive).steps == 0
    assert DriveLoop.objects.get(slot=0).holder == "node-a/7/loop-0#1"


def test_heartbeats_go_on_while_a_step_is_slow() -> None:
    slow, other = claimed_drive(), claimed_drive()
    Drive.objects.filter(pk=other.pk).update(next_due_at=PreciseNow(600))  # not due
    seen: dict[str, Any] = {}

    def script(apply_id: int, lease: Lease) -> Next:
        if apply_id != slow.apply_id:
            return poll_after(600)
        set_heartbeat_age(Apply.objects.using("schemabot").get(pk=other.apply_id), 300)
        seen["held_until_before"] = drive_row(slow).held_until
        time.sleep(4.5)  # longer than the hold (three 1 s heartbeats) and four heartbeats
        seen["other_age"] = apply_age(other.apply_id)
        seen["held_until_after"] = drive_row(slow).held_until
        return finished(A.COMPLETED)

    slots.start_loops(enqueue=lambda slot, generation: None)
    drive_loop(0, 1, budget=1, drivers=ScriptedFactory(script).drivers())

    assert seen["other_age"] <= 2, "the other apply's heartbeat stopped during the slow step"
    assert seen["held_until_after"] > seen["held_until_before"]  # the hold was renewed
    assert drive_row(slow).outcome == Outcome.COMPLETED  # and the step's outcome was kept


def test_a_loop_whose_slot_moved_on_stops_and_hands_nothing_over() -> None:
    slots.start_loops(enqueue=lambda slot, generation: None)
    claimed_drive()
    factory = ScriptedFactory(sequence(poll_after(0.1)))
    reports: list[dict[str, Any]] = []

    def run() -> None:
        try:
            reports.append(drive_loop(0, 1, budget=60, drivers=factory.drivers()))
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while DriveLoop.objects.get(slot=0).holder == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    # The sweep took it for dead (say its node stalled) and enqueued the next generation.
    DriveLoop.objects.filter(slot=0).update(generation=2, holder="")
    thread.join(timeout=15)

    assert not thread.is_alive()
    assert reports[0]["stopped"] == "its slot moved on to another generation"
    assert not reports[0]["handed"]
    assert DriveLoop.objects.get(slot=0).generation == 2


def counting_beats(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the loops' lease heartbeats (``heartbeats.beat`` calls); the list's length."""
    beats: list[int] = []
    real = heartbeats.beat

    def counted(drives: Iterable[heartbeats.Leases]) -> list[int]:
        lost = real(drives)
        beats.append(1)
        return lost

    monkeypatch.setattr(heartbeats, "beat", counted)
    return beats


def test_a_beat_that_fails_anywhere_leaves_the_heartbeat_thread_beating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_close = loops.close_old_connections

    def failing_close() -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the connection check failed")
        real_close()

    monkeypatch.setattr(loops, "close_old_connections", failing_close)
    beats = counting_beats(monkeypatch)
    drive = claimed_drive()
    seen: dict[str, int] = {}

    def script(apply_id: int, lease: Lease) -> Next:
        start = len(beats)
        deadline = time.monotonic() + 15
        while len(beats) < start + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["beats_during_step"] = len(beats) - start
        return finished(A.COMPLETED)

    slots.start_loops(enqueue=lambda slot, generation: None)
    report = drive_loop(0, 1, budget=1, drivers=ScriptedFactory(script).drivers())

    assert seen["beats_during_step"] >= 3, "the heartbeat thread stopped after a failed beat"
    assert report["stopped"] == "budget"
    assert drive_row(drive).outcome == Outcome.COMPLETED


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_loop_whose_heartbeat_thread_died_stops_stepping_and_hands_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = itertools.count()
    real = heartbeats.beat

    def dying(drives: Iterable[heartbeats.Leases]) -> list[int]:
        if next(calls) >= 1:
            raise SystemExit  # not an Exception: nothing in the thread catches it, it just ends
        return real(drives)

    monkeypatch.setattr(heartbeats, "beat", dying)
    claimed_drive()
    factory = ScriptedFactory(sequence(poll_after(0.05)))
    slots.start_loops(enqueue=lambda slot, generation: None)

    report = drive_loop(0, 1, budget=30, drivers=factory.drivers())

    assert report["stopped"] == "its heartbeat thread died"
    assert report["handed"]  # the next generation starts with a heartbeat of its own
    assert DriveLoop.objects.get(slot=0).generation == 2


@pytest.mark.parametrize("stalled", ["leases", "hold"])
def test_a_live_step_is_never_run_twice_when_a_heartbeat_stalls(
    monkeypatch: pytest.MonkeyPatch, stalled: str
) -> None:
    """Two loops, one drive, and a step that runs for well past its hold (three 1 s beats).

    ``leases``: the loops' lease heartbeats stall in SchemaBot's database meanwhile (a row-lock
    wait): the hold is renewed apart from them, so the other loop never takes the step.
    ``hold``: the hold renewals themselves stall: the other loop takes the drive over, and the
    first step, fenced, issues nothing once it goes on (only one engine call in all)."""
    drive = claimed_drive()
    first_running, first_done, second_started = (threading.Event() for _ in range(3))
    started: list[int] = []
    issued: list[int] = []
    lock = threading.Lock()

    def stall(real: Any) -> Any:
        def stalled_call(*args: Any) -> Any:
            if first_running.is_set():
                first_done.wait(15)
            return real(*args)

        return stalled_call

    if stalled == "leases":
        monkeypatch.setattr(heartbeats, "beat", stall(heartbeats.beat))
    else:
        monkeypatch.setattr(loops, "renew_hold", stall(loops.renew_hold))

    def script(apply_id: int, lease: Lease) -> Next:
        with lock:
            n = len(started)
            started.append(n)
        if n == 0:
            first_running.set()
            second_started.wait(8)  # a slow engine call, well past the hold
        else:
            second_started.set()
        try:
            if not still_mine():
                raise StepSuperseded("the engine call not issued: no longer holds its drive")
            with lock:
                issued.append(n)
            return finished(A.COMPLETED)
        finally:
            if n == 0:
                first_done.set()

    factory = ScriptedFactory(script)
    slots.start_loops(enqueue=lambda slot, generation: None)
    reports: list[dict[str, Any]] = []

    def run(slot: int) -> None:
        try:
            reports.append(drive_loop(slot, 1, budget=30, drivers=factory.drivers()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    assert first_done.wait(20)
    DriveLoop.objects.update(generation=F("generation") + 1, holder="")  # ends both loops
    for thread in threads:
        thread.join(timeout=20)

    assert not any(thread.is_alive() for thread in threads)
    assert len(issued) == 1, f"the engine call was issued by {len(issued)} steps"
    if stalled == "leases":
        assert started == [0], "the live step was taken by the other loop"
    else:
        assert (started, issued) == ([0, 1], [1])  # taken over; the first step stopped
    assert drive_row(drive).outcome == Outcome.COMPLETED
