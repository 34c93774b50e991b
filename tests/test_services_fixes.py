"""Manual fixes (applies.services.fixes): a refusal writes nothing, a fix writes one audit row.

Run on both backends; on MariaDB ``updated_at`` refreshes itself on every UPDATE that does not
set it, so "heartbeat kept" there proves the fix pinned it.
"""

from __future__ import annotations

from typing import Any

import MySQLdb
import pytest

from applies import claims, target_lock
from applies.clauses import Clause
from applies.dbclock import SecondsAgo
from applies.lines import Line
from applies.models import Apply, ApplyLog, ApplyOperation, Task
from applies.services import fixes
from applies.services.seen import Seen
from applies.states import ApplyState, TaskState
from applies.vocabulary import LogEvent, LogSource
from tests.claim_fixtures import FRESH, STALE, make_apply, operation_of, reload
from tests.factories import set_heartbeat_age
from tests.helpers import mariadb_server

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
ACTOR = "alice"
REASON = "driver died and left it wedged"
TOKEN = "0b9f1c3e-0000-4000-8000-000000000001"


def seen(apply: Apply, **overrides: Any) -> dict[str, Any]:
    values = {"state": apply.state, "token": apply.lease_token, "heartbeat": apply.updated_at}
    values.update(overrides)
    return {"seen": Seen(**values)}


def leased(state: str, *, age: int = STALE, **fields: Any) -> Apply:
    apply = make_apply(state, age=age, **fields)
    set_heartbeat_age(apply, age, lease_owner="host/1/driver-0", lease_token=TOKEN)
    return reload(apply)


def snapshot(apply: Apply) -> tuple[Any, ...]:
    row = reload(apply)
    return (
        row.state,
        row.lease_owner,
        row.lease_token,
        row.lease_acquired_at,
        row.updated_at,
        row.completed_at,
        row.attempt,
        row.error_message,
    )


def audit_rows(apply: Apply) -> list[ApplyLog]:
    return list(ApplyLog.objects.filter(apply_id=apply.pk, source=LogSource.TERNADMIN))


def meta(log: ApplyLog) -> dict[str, Any]:
    assert log.metadata is not None
    return dict(log.metadata)


def children(apply: Apply) -> tuple[list[str], list[str]]:
    operations = ApplyOperation.objects.filter(apply_id=apply.pk).order_by("pk")
    tasks = Task.objects.filter(apply_id=apply.pk).order_by("pk")
    return list(operations.values_list("state", flat=True)), list(
        tasks.values_list("state", flat=True)
    )


# --- accepted fixes ------------------------------------------------------------------------------


def test_marking_a_dead_apply_failed_fails_its_children_and_keeps_the_heartbeat() -> None:
    apply = leased(A.RUNNING)
    result = fixes.set_state(apply.pk, A.FAILED, actor=ACTOR, reason=REASON, **seen(apply))

    row = reload(apply)
    assert (row.state, row.lease_owner, row.lease_token, row.lease_acquired_at) == (
        A.FAILED,
        "",
        "",
        None,
    )
    assert row.updated_at == apply.updated_at  # pinned: the fix does not look like a driver
    assert row.completed_at is not None
    assert children(apply) == ([A.FAILED], [TaskState.FAILED])
    assert operation_of(apply).updated_at == apply.updated_at
    [log] = audit_rows(apply)
    assert (log.event_type, log.old_state, log.new_state) == (
        LogEvent.STATE_TRANSITION,
        A.RUNNING,
        A.FAILED,
    )
    assert meta(log)["actor"] == ACTOR and meta(log)["reason"] == REASON
    assert meta(log)["released_lease_owner"] == "host/1/driver-0"
    assert ACTOR in log.message and REASON in log.message
    assert (result.old_state, result.new_state, result.log_id) == (A.RUNNING, A.FAILED, log.pk)
    assert (result.operations, result.tasks) == (1, 1)


def test_reset_heartbeat_moves_it_to_the_database_now() -> None:
    apply = make_apply(A.RUNNING, age=3600)
    fixes.set_state(
        apply.pk, A.CANCELLED, actor=ACTOR, reason=REASON, reset_heartbeat=True, **seen(apply)
    )
    row = reload(apply)
    assert row.state == A.CANCELLED and row.updated_at > apply.updated_at
    assert Apply.objects.filter(pk=apply.pk, updated_at__gte=SecondsAgo(30)).exists()
    assert len(audit_rows(apply)) == 1


def test_mark_failed_records_the_reason_as_the_error() -> None:
    apply = make_apply("teleporting")  # an unknown state written by some newer SchemaBot
    fixes.mark_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply))
    row = reload(apply)
    assert row.state == A.FAILED
    assert row.error_message == f"Marked failed by {ACTOR}: {REASON}"
    assert row.updated_at == apply.updated_at
    assert len(audit_rows(apply)) == 1


def test_stopped_keeps_completed_at_null_and_stops_unfinished_tasks() -> None:
    apply = make_apply(A.WAITING_FOR_CUTOVER, tasks=2)
    Task.objects.filter(apply_id=apply.pk).filter(
        pk=Task.objects.filter(apply_id=apply.pk).order_by("pk").values("pk")[:1]
    ).update(state=TaskState.COMPLETED)
    fixes.set_state(apply.pk, A.STOPPED, actor=ACTOR, reason=REASON, **seen(apply))
    row = reload(apply)
    assert (row.state, row.completed_at) == (A.STOPPED, None)
    assert children(apply) == ([A.STOPPED], [TaskState.COMPLETED, TaskState.STOPPED])


def test_a_move_into_an_active_state_leaves_children_and_clears_completed_at() -> None:
    apply = make_apply(A.CANCELLED)
    set_heartbeat_age(apply, STALE, completed_at=SecondsAgo(600))
    apply = reload(apply)
    fixes.set_state(apply.pk, A.RUNNING, actor=ACTOR, reason=REASON, **seen(apply))
    row = reload(apply)
    assert (row.state, row.completed_at, row.updated_at) == (A.RUNNING, None, apply.updated_at)
    assert children(apply) == ([A.CANCELLED], [TaskState.RUNNING])
    # Heartbeat pinned and stale: the stale-active clause takes it over at once.
    claim = claims.claim_apply(apply.pk, "ternadmin/1")
    assert claim is not None and claim.clause is Clause.STALE_ACTIVE


def test_a_live_driver_can_be_stopped_only_with_confirmation() -> None:
    apply = leased(A.RUNNING, age=FRESH)
    with pytest.raises(fixes.LiveDriver, match="looks alive"):
        fixes.set_state(apply.pk, A.FAILED, actor=ACTOR, reason=REASON, **seen(apply))
    assert snapshot(apply)[0] == A.RUNNING and audit_rows(apply) == []

    # The driver keeps beating while the person confirms: the heartbeat may move, the
    # state and lease token must not.
    set_heartbeat_age(apply, 0)
    fixes.set_state(
        apply.pk,
        A.FAILED,
        actor=ACTOR,
        reason=REASON,
        confirm_live=True,
        **seen(apply, heartbeat=apply.updated_at),
    )
    row = reload(apply)
    assert (row.state, row.lease_token) == (A.FAILED, "")
    [log] = audit_rows(apply)
    assert meta(log)["confirmed_live"] is True


# --- refusals: nothing written, a clear message --------------------------------------------------


def assert_refused(apply: Apply, error: type[Exception], match: str, call: Any) -> None:
    before = snapshot(apply)
    before_children = children(apply)
    with pytest.raises(error, match=match):
        call()
    assert snapshot(apply) == before
    assert children(apply) == before_children
    assert audit_rows(apply) == []


def test_an_unregistered_state_is_refused() -> None:
    apply = make_apply(A.RUNNING)
    assert_refused(
        apply,
        fixes.Refused,
        "not a registered state",
        lambda: fixes.set_state(apply.pk, "teleporting", actor=ACTOR, reason=REASON, **seen(apply)),
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"state": A.CUTTING_OVER}, "state running → cutting_over"),
        ({"lease_token": "another-driver", "lease_owner": "host/2/driver-1"}, "lease changed"),
        ({}, "heartbeat moved"),
    ],
    ids=["state", "lease", "heartbeat"],
)
def test_a_stale_form_is_refused(change: dict[str, str], expected: str) -> None:
    apply = leased(A.RUNNING)
    page = seen(apply)
    set_heartbeat_age(apply, STALE + 30, **change)  # the row moves on after the page loaded
    assert_refused(
        apply,
        fixes.RowChanged,
        f"changed since you loaded the page.*{expected}",
        lambda: fixes.set_state(apply.pk, A.FAILED, actor=ACTOR, reason=REASON, **page),
    )


def test_another_active_apply_on_the_target_refuses_an_active_state() -> None:
    holder = make_apply(A.RUNNING, database_name="orders", environment="production")
    apply = make_apply(A.FAILED, database_name="orders", environment="production")
    assert_refused(
        apply,
        fixes.Refused,
        f"Another active apply \\({holder.apply_identifier}, running\\) holds orders/vitess/",
        lambda: fixes.set_state(apply.pk, A.PENDING, actor=ACTOR, reason=REASON, **seen(apply)),
    )


def test_children_that_contradict_the_terminal_state_refuse_it() -> None:
    apply = make_apply(A.RUNNING, tasks=2)
    Task.objects.filter(apply_id=apply.pk).filter(
        pk=Task.objects.filter(apply_id=apply.pk).order_by("pk").values("pk")[:1]
    ).update(state=TaskState.FAILED)
    assert_refused(
        apply,
        fixes.Refused,
        "cannot be completed: its tasks include failed",
        lambda: fixes.set_state(apply.pk, A.COMPLETED, actor=ACTOR, reason=REASON, **seen(apply)),
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reason": " "}, "needs a reason"),
        ({"new_state": A.RUNNING}, "already running"),
    ],
    ids=["no-reason", "same-state"],
)
def test_pointless_or_unexplained_fixes_are_refused(kwargs: dict[str, str], match: str) -> None:
    apply = make_apply(A.RUNNING)
    arguments = {"new_state": A.FAILED, "actor": ACTOR, "reason": REASON} | kwargs
    assert_refused(
        apply,
        fixes.Refused,
        match,
        lambda: fixes.set_state(apply.pk, **arguments, **seen(apply)),  # type: ignore[arg-type]
    )


# --- reapply (SchemaBot #591) --------------------------------------------------------------------


def failed_apply(completed_ago: int = 600) -> Apply:
    apply = leased(A.FAILED, tasks=3, attempt=4, error_message="deploy request errored")
    Apply.objects.filter(pk=apply.pk).update(
        completed_at=SecondsAgo(completed_ago), updated_at=SecondsAgo(completed_ago)
    )
    ApplyOperation.objects.filter(apply_id=apply.pk).update(
        error_message="deploy request errored", completed_at=SecondsAgo(completed_ago)
    )
    tasks = list(Task.objects.filter(apply_id=apply.pk).order_by("pk"))
    for task, state in zip(
        tasks, (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED), strict=True
    ):
        Task.objects.filter(pk=task.pk).update(
            state=state, completed_at=SecondsAgo(completed_ago), error_message="table failed"
        )
    return reload(apply)


def test_reapply_makes_a_recent_failure_retryable_and_the_retry_clause_takes_it(
    line: Line,
) -> None:
    apply = failed_apply()
    result = fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply))

    row = reload(apply)
    assert (row.state, row.attempt, row.completed_at) == (A.FAILED_RETRYABLE, 0, None)
    assert (row.lease_owner, row.lease_token, row.lease_acquired_at) == ("", "", None)
    assert row.error_message == ""
    # The heartbeat is NOW(), as upstream: the retry clause's freshness counts from it.
    assert row.updated_at > apply.updated_at
    assert children(apply) == (
        [A.FAILED_RETRYABLE],
        [TaskState.COMPLETED, TaskState.FAILED_RETRYABLE, TaskState.FAILED_RETRYABLE],
    )
    operation = operation_of(apply)
    assert (operation.error_message, operation.completed_at) == (None, None)
    assert operation.updated_at > apply.updated_at
    retried = Task.objects.filter(apply_id=apply.pk, state=TaskState.FAILED_RETRYABLE)
    assert set(retried.values_list("error_message", "completed_at")) == {(None, None)}
    [log] = audit_rows(apply)
    assert (log.old_state, log.new_state) == (A.FAILED, A.FAILED_RETRYABLE)
    assert meta(log)["previous_attempt"] == 4
    assert (result.operations, result.tasks) == (1, 2)
    claim = claims.claim_apply(apply.pk, "ternadmin/1")
    assert claim is not None and claim.clause is Clause.RETRY


def test_reapply_of_a_failure_last_touched_long_ago_is_still_claimable() -> None:
    # Completed recently, heartbeat old: a pinned heartbeat would leave the retry clause
    # (updated within the freshness window) closed and expiry would fail it again.
    apply = failed_apply()
    Apply.objects.filter(pk=apply.pk).update(updated_at=SecondsAgo(3 * 86_400))
    apply = reload(apply)
    fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply))
    assert claims.claim_apply(apply.pk, "ternadmin/1") is not None


def test_set_state_to_retryable_is_a_reapply() -> None:
    apply = failed_apply()
    fixes.set_state(apply.pk, A.FAILED_RETRYABLE, actor=ACTOR, reason=REASON, **seen(apply))
    assert (reload(apply).state, reload(apply).attempt) == (A.FAILED_RETRYABLE, 0)


def test_reapply_refuses_an_old_failure() -> None:
    apply = failed_apply(completed_ago=2 * 86_400)
    assert_refused(
        apply,
        fixes.Refused,
        "did not fail within the last 1d",
        lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
    )


def test_reapply_refuses_a_failure_without_a_completion_time() -> None:
    apply = failed_apply()
    Apply.objects.filter(pk=apply.pk).update(completed_at=None, updated_at=SecondsAgo(600))
    apply = reload(apply)
    assert_refused(
        apply,
        fixes.Refused,
        "has no failure completion time",
        lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
    )


def test_reapply_refuses_an_apply_without_a_deployment() -> None:
    apply = failed_apply()
    Apply.objects.filter(pk=apply.pk).update(deployment="", updated_at=SecondsAgo(600))
    apply = reload(apply)
    assert_refused(
        apply,
        fixes.Refused,
        "has no deployment",
        lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
    )


@pytest.mark.parametrize("ended", [A.STOPPED, A.CANCELLED, A.REVERTED])
def test_reapply_refuses_an_apply_with_an_ended_operation(ended: str) -> None:
    apply = failed_apply()
    ApplyOperation.objects.create(apply=apply, deployment="west", state=ended)
    Apply.objects.filter(pk=apply.pk).update(updated_at=SecondsAgo(600))
    apply = reload(apply)
    assert_refused(
        apply,
        fixes.Refused,
        "stopped, cancelled or reverted operation",
        lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
    )


def test_reapply_refuses_what_is_not_failed() -> None:
    apply = make_apply(A.CANCELLED)
    assert_refused(
        apply,
        fixes.Refused,
        "Only a failed apply can be reapplied",
        lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
    )


def test_reapply_refuses_when_another_apply_is_active_on_the_target() -> None:
    apply = failed_apply()
    make_apply(A.PENDING, database_name=apply.database_name)
    assert_refused(
        apply,
        fixes.Refused,
        "one active apply per target",
        lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
    )


def test_reapply_refuses_when_an_active_apply_holds_one_of_its_operation_deployments(
    line: Line,
) -> None:
    # Current upstream (#396) checks every deployment of the apply's operations; b2349ea only
    # the parent's deployment.
    apply = failed_apply()
    ApplyOperation.objects.filter(apply_id=apply.pk).update(deployment="west")
    make_apply(A.RUNNING, database_name=apply.database_name, deployment="west")
    Apply.objects.filter(pk=apply.pk).update(updated_at=SecondsAgo(600))
    apply = reload(apply)
    if line.operation_targets:
        assert_refused(
            apply,
            fixes.Refused,
            "one active apply per target",
            lambda: fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply)),
        )
    else:
        fixes.reapply_failed(apply.pk, actor=ACTOR, reason=REASON, **seen(apply))
        assert reload(apply).state == A.FAILED_RETRYABLE


# --- release lease -------------------------------------------------------------------------------


def test_release_lease_clears_it_and_keeps_state_and_heartbeat() -> None:
    apply = leased(A.RUNNING)
    fixes.release_lease(apply.pk, actor=ACTOR, reason=REASON, **seen(apply))
    row = reload(apply)
    assert (row.state, row.lease_owner, row.lease_token, row.lease_acquired_at) == (
        A.RUNNING,
        "",
        "",
        None,
    )
    assert row.updated_at == apply.updated_at
    [log] = audit_rows(apply)
    assert (log.event_type, log.old_state, log.new_state) == (LogEvent.INFO, A.RUNNING, A.RUNNING)


def test_release_lease_refuses_without_a_lease_or_a_confirmation_for_a_live_one() -> None:
    bare = make_apply(A.RUNNING)
    assert_refused(
        bare,
        fixes.Refused,
        "holds no lease",
        lambda: fixes.release_lease(bare.pk, actor=ACTOR, reason=REASON, **seen(bare)),
    )
    live = leased(A.RUNNING, age=FRESH)
    assert_refused(
        live,
        fixes.LiveDriver,
        "looks alive",
        lambda: fixes.release_lease(live.pk, actor=ACTOR, reason=REASON, **seen(live)),
    )


def test_every_terminal_state_has_a_task_state() -> None:
    from applies.states import TASK_STATES, TERMINAL_APPLY_STATES

    assert set(fixes.TASK_STATE_FOR_TERMINAL) == set(TERMINAL_APPLY_STATES)
    assert set(fixes.TASK_STATE_FOR_TERMINAL.values()) <= set(TASK_STATES)


# --- MariaDB: SchemaBot's named target lock ------------------------------------------------------


@pytest.mark.mariadb
def test_a_peer_holding_the_target_lock_refuses_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(target_lock, "LOCK_WAIT_SECONDS", 1)
    apply = make_apply(A.CANCELLED)
    name = target_lock.target_lock_name(apply.database_name, apply.database_type, apply.environment)
    peer = MySQLdb.connect(**mariadb_server(), autocommit=True)
    peer.cursor().execute("SELECT GET_LOCK(%s, 0)", [name])
    try:
        assert_refused(
            apply,
            fixes.Refused,
            "could not take the target lock",
            lambda: fixes.set_state(apply.pk, A.RUNNING, actor=ACTOR, reason=REASON, **seen(apply)),
        )
    finally:
        peer.close()
