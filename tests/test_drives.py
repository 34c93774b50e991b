"""A drive as a row: taking a due step, fencing it, what each step outcome writes, heartbeats.

The driver here is scripted (``tests.drive_fixtures``): these tests are about what runs the
steps, not about an engine. Run on SQLite and on MariaDB alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from applies.claims import claim_apply
from applies.dbclock import AgeSeconds, PreciseNow, SecondsUntil
from applies.drives import record_drive
from applies.drives.foreground import run_foreground
from applies.drives.heartbeats import Leases, beat, loop_leases, running_leases
from applies.drives.schedule import Settled, confirm_hold, settle, take_due, taken_over
from applies.drives.step import backoff, step_once
from applies.engines import Drivers
from applies.engines.base import (
    Next,
    StepSuperseded,
    failed,
    finished,
    handed_back,
    lease_lost,
    poll_after,
    run_now,
)
from applies.leases import Lease
from applies.models import Apply, ApplyLog, ApplyOperation, Drive, DriveLoop
from applies.states import ApplyState
from tests.claim_fixtures import operation_of, reload
from tests.drive_fixtures import (
    ScriptedFactory,
    claimed_drive,
    drive_row,
    raising,
    sequence,
    still_mine,
)
from tests.factories import set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
Outcome = Drive.Outcome


def due_in(drive: Drive) -> float:
    row = Drive.objects.filter(pk=drive.pk).annotate(until=SecondsUntil("next_due_at"))
    return float(row.values_list("until", flat=True).get())


def make_overdue(drive: Drive, seconds: int) -> None:
    Drive.objects.filter(pk=drive.pk).update(next_due_at=PreciseNow(-seconds))


# --- taking a step ----------------------------------------------------------------------------


def test_the_most_overdue_due_drive_is_taken_first_and_only_once() -> None:
    recent, oldest = claimed_drive(), claimed_drive()
    make_overdue(recent, 5)
    make_overdue(oldest, 50)

    first = take_due("loop-a")
    second = take_due("loop-b")

    assert first is not None and first.drive.pk == oldest.pk and first.step == 1
    assert second is not None and second.drive.pk == recent.pk
    assert take_due("loop-c") is None  # both are held now
    assert drive_row(oldest).held_by == "loop-a"


def test_a_drive_not_due_yet_or_ended_is_not_taken() -> None:
    later = claimed_drive()
    Drive.objects.filter(pk=later.pk).update(next_due_at=PreciseNow(60))
    ended = claimed_drive()
    Drive.objects.filter(pk=ended.pk).update(outcome=Outcome.COMPLETED)
    queued = claimed_drive(on_loops=False)

    assert take_due("loop-a") is None
    assert drive_row(queued).outcome == Outcome.QUEUED


def test_a_step_whose_hold_lapsed_is_taken_again_and_the_late_step_writes_nothing() -> None:
    drive = claimed_drive()
    dead = take_due("loop-dead")
    assert dead is not None
    assert take_due("loop-live") is None  # held
    Drive.objects.filter(pk=drive.pk).update(held_until=PreciseNow(-1))  # its worker died

    live = take_due("loop-live")

    assert live is not None and live.step == dead.step + 1
    # The dead step never reported: the take that found its hold lapsed counts it as a step
    # error. Counting nothing would let a step that kills its worker every time (a timeout, an
    # out-of-memory kill) be taken again forever, its apply kept fresh by the heartbeats.
    assert live.drive.consecutive_errors == 1
    assert live.lapsed == "step 1's worker died or hung (its hold by loop-dead lapsed)"
    assert live.drive.last_error == live.lapsed
    assert not settle(dead, Settled(30.0))  # the late step: nothing written
    assert drive_row(drive).held_by == "loop-live"
    step_once(live, ScriptedFactory(sequence(poll_after(30))).drivers())
    row = drive_row(drive)
    # The step ran again and went well: a good step resets the count.
    assert (row.held_by, row.steps, row.consecutive_errors) == ("", 2, 0)
    timeline = ApplyLog.objects.using("schemabot").filter(apply_id=drive.apply_id, level="warn")
    assert [log.message for log in timeline] == [
        f"ternadmin drive {drive.pk}: {live.lapsed} (1 in a row); running it again"
    ]


def test_a_step_that_kills_its_worker_every_time_ends_the_drive_at_the_error_limit(
    settings: Any,
) -> None:
    settings.TERNADMIN_DRIVE_MAX_ERRORS = 2
    drive = claimed_drive()
    factory = ScriptedFactory(sequence(poll_after(30)))
    taken = take_due("loop-1")
    for holder in ("loop-2", "loop-3"):  # each worker dies mid-step: nothing is ever settled
        Drive.objects.filter(pk=drive.pk).update(held_until=PreciseNow(-1))
        taken = take_due(holder)
    assert taken is not None and (taken.step, taken.drive.consecutive_errors) == (3, 2)

    step_once(taken, factory.drivers())

    assert factory.steps == []  # the step that killed two workers is not run a third time
    row = drive_row(drive)
    assert (row.outcome, row.consecutive_errors, row.held_by) == (Outcome.ERROR, 2, "")
    assert row.message == (
        "gave up after 2 consecutive step errors; the last: "
        "step 2's worker died or hung (its hold by loop-2 lapsed)"
    )
    assert take_due("loop-x") is None and running_leases() == []  # no longer heartbeated
    gave_up = ApplyLog.objects.using("schemabot").get(apply_id=drive.apply_id, level="error")
    assert "can be claimed again once its heartbeat is stale" in gave_up.message


def test_a_step_holds_its_drive_until_its_hold_lapses_or_another_runner_takes_it() -> None:
    drive = claimed_drive()
    first = take_due("loop-a")
    assert first is not None
    Drive.objects.filter(pk=drive.pk).update(held_until=PreciseNow(1))

    assert confirm_hold(first)  # and pushes the hold on
    assert Drive.objects.filter(pk=drive.pk, held_until__gt=PreciseNow(20)).exists()
    Drive.objects.filter(pk=drive.pk).update(held_until=PreciseNow(-1))  # renewals stalled
    assert not confirm_hold(first)  # lapsed: a loop may take it at any moment
    second = take_due("loop-b")
    assert second is not None and confirm_hold(second)
    assert not confirm_hold(first) and taken_over(first) and not taken_over(second)


def test_a_step_taken_over_mid_step_issues_nothing_more_and_writes_nothing() -> None:
    drive = claimed_drive()
    issued: list[int] = []

    def script(apply_id: int, lease: Lease) -> Next:
        # This step stalls past its hold, and another loop takes the drive over meanwhile.
        Drive.objects.filter(pk=drive.pk).update(held_until=PreciseNow(-1))
        assert take_due("loop-b") is not None
        if not still_mine():
            raise StepSuperseded("deploy not issued: the step no longer holds its drive")
        issued.append(apply_id)
        return poll_after(30)

    factory = ScriptedFactory(script)
    first = take_due("loop-a")
    assert first is not None

    step_once(first, factory.drivers())

    assert issued == []
    row = drive_row(drive)
    assert (row.held_by, row.steps, row.outcome) == ("loop-b", 2, Outcome.RUNNING)
    assert row.consecutive_errors == 1  # the overrun hold, counted by the take; nothing more


def test_a_duplicate_of_a_step_does_nothing() -> None:
    drive = claimed_drive()
    taken = take_due("loop-a")
    assert taken is not None
    factory = ScriptedFactory(sequence(poll_after(30)))
    step_once(taken, factory.drivers())
    after = drive_row(drive)

    step_once(taken, factory.drivers())  # the same step delivered again

    assert drive_row(drive).next_due_at == after.next_due_at
    assert drive_row(drive).last_step_at == after.last_step_at


# --- what a step's outcome writes --------------------------------------------------------------


def one_step(drive: Drive, factory: ScriptedFactory) -> Drive:
    Drive.objects.filter(pk=drive.pk).update(next_due_at=PreciseNow(-1))
    taken = take_due("loop-a")
    assert taken is not None and taken.drive.pk == drive.pk
    step_once(taken, factory.drivers())
    return drive_row(drive)


def test_a_poll_makes_the_next_step_due_after_the_delay_and_run_now_at_once() -> None:
    drive = claimed_drive()
    factory = ScriptedFactory(sequence(poll_after(30), run_now()))
    assert 28 <= due_in(one_step(drive, factory)) <= 31
    row = one_step(drive, factory)
    assert due_in(row) <= 1 and row.outcome == Outcome.RUNNING and row.steps == 2


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (finished(A.COMPLETED), (Outcome.COMPLETED, A.COMPLETED)),
        (failed("the plan is bad"), (Outcome.FAILED, A.FAILED)),
        (lease_lost(), (Outcome.LEASE_LOST, "")),
    ],
)
def test_an_ending_step_ends_the_drive(outcome: Any, expected: tuple[str, str]) -> None:
    row = one_step(claimed_drive(), ScriptedFactory(sequence(outcome)))
    assert (row.outcome, row.end_state) == expected
    assert row.next_due_at is None and row.finished_at is not None and row.held_by == ""
    assert take_due("loop-b") is None


def test_step_errors_back_off_and_the_drive_gives_up_after_the_limit(settings: Any) -> None:
    settings.TERNADMIN_DRIVE_MAX_ERRORS = 3
    settings.TERNADMIN_ENGINE_POLL_SECONDS = 2
    drive = claimed_drive()
    factory = ScriptedFactory(
        sequence(handed_back("engine: 503 after 4 retries"), poll_after(5), run_now())
    )
    erring = ScriptedFactory(raising(RuntimeError("boom")))

    first = one_step(drive, factory)
    assert (first.consecutive_errors, first.outcome) == (1, Outcome.RUNNING)
    assert "503 after 4 retries" in first.last_error and 1 <= due_in(first) <= 3
    assert one_step(drive, factory).consecutive_errors == 0  # a good step resets the count
    assert one_step(drive, erring).consecutive_errors == 1
    assert 3 <= due_in(one_step(drive, erring)) <= 5  # backoff doubles
    last = one_step(drive, erring)

    assert last.outcome == Outcome.ERROR and last.next_due_at is None
    assert "gave up after 3 consecutive step errors" in last.message
    assert "RuntimeError: boom" in last.last_error
    timeline = ApplyLog.objects.using("schemabot").filter(apply_id=drive.apply_id)
    assert timeline.filter(level="warn", message__contains="step failed").count() == 3
    gave_up = timeline.get(level="error")
    assert "can be claimed again once its heartbeat is stale" in gave_up.message
    assert gave_up.source == "ternadmin"
    assert [backoff(n) for n in (1, 2, 3, 7, 9)] == [2, 4, 8, 60, 60]


@pytest.mark.parametrize("code", [1040, 1226, 2003])
def test_a_database_refusing_connections_is_waited_out_and_never_ends_the_drive(
    settings: Any, code: int
) -> None:
    settings.TERNADMIN_DRIVE_MAX_ERRORS = 1
    settings.TERNADMIN_HEARTBEAT_SECONDS = 7
    drive = claimed_drive()
    refused = ScriptedFactory(raising(OperationalError(code, "Too many connections")))
    logs_before = ApplyLog.objects.using("schemabot").filter(apply_id=drive.apply_id).count()

    for _ in range(3):
        row = one_step(drive, refused)

    assert row.outcome == Outcome.RUNNING and row.consecutive_errors == 0
    assert str(code) in row.last_error and 5 <= due_in(row) <= 8
    logs_after = ApplyLog.objects.using("schemabot").filter(apply_id=drive.apply_id).count()
    assert logs_after == logs_before  # the refusing database holds the timeline


def test_an_engine_without_a_driver_ends_the_drive(settings: Any) -> None:
    settings.TERNADMIN_ENGINES = []
    drive = claimed_drive()
    Drive.objects.filter(pk=drive.pk).update(next_due_at=PreciseNow(-1))
    taken = take_due("loop-a")
    assert taken is not None

    step_once(taken, Drivers())
    row = drive_row(drive)
    assert (row.outcome, row.message) == (Outcome.ERROR, "no driver for engine planetscale")


# --- recording --------------------------------------------------------------------------------


def test_a_new_claim_supersedes_the_apply_s_unfinished_drive_and_logs_the_recovery() -> None:
    first = claimed_drive(A.CREATING_DEPLOY_REQUEST, started_at=timezone.now())
    set_heartbeat_age(reload(Apply(pk=first.apply_id)), 300)  # its drive died
    claim = claim_apply(first.apply_id, "node-u/2/sweep", engines=["planetscale"])
    assert claim is not None
    second = record_drive(claim, trigger="test", on_loops=True)

    old = drive_row(first)
    assert old.outcome == Outcome.LEASE_LOST and f"superseded by drive {second.pk}" in old.message
    assert drive_row(second).outcome == Outcome.RUNNING
    recovering = ApplyLog.objects.using("schemabot").filter(
        apply_id=first.apply_id,
        message="Recovering apply (heartbeat expired, was in creating_deploy_request state)",
    )
    assert [log.source for log in recovering] == ["ternadmin", "ternadmin"]


# --- heartbeats -------------------------------------------------------------------------------


def test_one_heartbeat_refreshes_every_running_drive_and_ends_those_whose_lease_was_taken() -> None:
    drives = [claimed_drive() for _ in range(4)]
    taken_from = drives[1]
    Apply.objects.using("schemabot").filter(pk=taken_from.apply_id).update(
        lease_token="someone-elses-token"
    )
    ended = drives[2]
    Drive.objects.filter(pk=ended.pk).update(outcome=Outcome.ERROR, next_due_at=None)
    for drive in drives:
        set_heartbeat_age(Apply.objects.using("schemabot").get(pk=drive.apply_id), 300)

    lost = beat(running_leases())

    assert lost == [taken_from.pk]
    assert drive_row(taken_from).outcome == Outcome.LEASE_LOST
    ages = dict(
        Apply.objects.using("schemabot")
        .annotate(age=AgeSeconds("updated_at"))
        .values_list("pk", "age")
    )
    assert ages[drives[0].apply_id] <= 2 and ages[drives[3].apply_id] <= 2
    assert ages[ended.apply_id] >= 299  # a drive that gave up is not heartbeated
    assert ages[taken_from.apply_id] >= 299  # nor one whose lease is gone


def test_of_two_drives_of_one_apply_the_one_whose_token_was_rotated_is_lost() -> None:
    old = claimed_drive(A.CREATING_DEPLOY_REQUEST)
    set_heartbeat_age(reload(Apply(pk=old.apply_id)), 300)
    claim = claim_apply(old.apply_id, "node-u/2/sweep", engines=["planetscale"])
    assert claim is not None
    new = record_drive(claim, trigger="test", on_loops=True)
    # Both still running, as a heartbeat that read the drives before the new claim sees them.
    Drive.objects.filter(pk=old.pk).update(outcome=Outcome.RUNNING, finished_at=None)
    set_heartbeat_age(reload(Apply(pk=old.apply_id)), 300)

    lost = beat([Leases.of(old), Leases.of(new)])

    assert lost == [old.pk]
    assert drive_row(old).outcome == Outcome.LEASE_LOST
    assert drive_row(new).outcome == Outcome.RUNNING
    apply = Apply.objects.using("schemabot").annotate(age=AgeSeconds("updated_at"))
    assert apply.get(pk=old.apply_id).age <= 2  # the new token's heartbeat went through


def test_the_heartbeat_refreshes_the_operation_row_a_drive_holds() -> None:
    drive = claimed_drive()
    operation = ApplyOperation.objects.using("schemabot").get(apply_id=drive.apply_id)
    ApplyOperation.objects.using("schemabot").filter(pk=operation.pk).update(lease_token="op-tok")
    Drive.objects.filter(pk=drive.pk).update(
        operation_id=operation.pk, operation_lease_token="op-tok"
    )
    set_heartbeat_age(operation, 300)

    assert beat(running_leases()) == []
    assert operation_of(reload(Apply(pk=drive.apply_id))).updated_at > operation.updated_at

    ApplyOperation.objects.using("schemabot").filter(pk=operation.pk).update(lease_token="peer")
    assert beat(running_leases()) == [drive.pk]
    assert "operation" in drive_row(drive).message


def test_each_live_loop_beats_its_share_and_the_share_of_a_quiet_loop(settings: Any) -> None:
    settings.TERNADMIN_DRIVE_MODE = "loops"
    settings.TERNADMIN_DRIVE_LOOPS = 3
    settings.TERNADMIN_HEARTBEAT_SECONDS = 10  # a loop proves itself alive for 30 s at a time
    drives = {d.pk for d in (claimed_drive() for _ in range(9))}
    for slot in range(3):  # each renewed its slot a moment ago
        DriveLoop.objects.create(slot=slot, generation=1, holder=f"loop-{slot}#1")
    DriveLoop.objects.update(alive_until=PreciseNow(29))

    def beaten(slot: int) -> set[int]:
        return {leases.drive_id for leases in loop_leases(slot)}

    shares = [beaten(slot) for slot in range(3)]
    assert shares == [{pk for pk in drives if pk % 3 == slot} for slot in range(3)]
    assert all(shares)  # each apply is beaten by one loop per interval, not by every loop

    DriveLoop.objects.filter(slot=2).update(alive_until=PreciseNow(14))  # silent for 16 s
    assert beaten(0) == shares[0] | shares[2] and beaten(1) == shares[1] | shares[2]
    DriveLoop.objects.filter(slot=1).update(holder="", alive_until=PreciseNow(300))  # handed over
    assert beaten(0) == drives  # the last live loop beats every drive


def test_the_heartbeat_is_one_statement_per_table_however_many_drives(
    django_assert_max_num_queries: Any,
) -> None:
    drives = [claimed_drive() for _ in range(30)]
    leases = [Leases.of(d) for d in drives]
    with django_assert_max_num_queries(2):  # one UPDATE each for applies and operations
        assert beat(leases) == []


# --- the foreground runner --------------------------------------------------------------------


def test_a_foreground_drive_runs_its_steps_to_the_end() -> None:
    drive = claimed_drive(on_loops=False)
    factory = ScriptedFactory(sequence(run_now(), poll_after(0.05), finished(A.COMPLETED)))

    ended = run_foreground(drive.pk, factory.drivers())

    assert ended is not None and (ended.outcome, ended.steps) == (Outcome.COMPLETED, 3)
    assert [apply_id for apply_id, _ in factory.steps] == [drive.apply_id] * 3
    assert run_foreground(drive.pk, factory.drivers()) is None  # ended: nothing to take
