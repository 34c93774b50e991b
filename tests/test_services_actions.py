"""Operator actions: reclaim, request stop/start, bulk reclaim (applies.services.actions)."""

from __future__ import annotations

import threading
from importlib import import_module
from typing import Any

import pytest
from django.db import connections

from applies import selectors
from applies.lines import Line
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Drive
from applies.redact import short_token
from applies.services import actions
from applies.services.errors import Refusal, Refused
from applies.services.seen import ReclaimItem, Seen
from applies.states import ApplyState
from applies.vocabulary import ControlOperation, LogEvent, LogSource, RequestStatus
from tests.claim_fixtures import FRESH, STALE, make_apply, reload
from tests.factories import ApplyControlRequestFactory, set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
WHO = "alice"
WHY = "driver host lost"


def seen(apply: Apply) -> dict[str, Any]:
    return {"seen": Seen(apply.state, apply.lease_token)}


def snapshot(apply: Apply) -> dict[str, Any]:
    """Everything an action may write, to prove a refusal wrote nothing."""
    row = reload(apply)
    return {
        "row": (row.state, row.lease_owner, row.lease_token, row.updated_at, row.attempt),
        "logs": ApplyLog.objects.using("schemabot").filter(apply_id=apply.pk).count(),
        "requests": list(
            ApplyControlRequest.objects.using("schemabot")
            .filter(apply_id=apply.pk)
            .values_list("operation", "status", "updated_at")
        ),
        "drives": Drive.objects.filter(apply_id=apply.pk).count(),
    }


def leased(state: str, *, age: int = STALE, **fields: Any) -> Apply:
    """An apply held (once) by a SchemaBot driver: it has a lease token."""
    apply = make_apply(state, age=age, **fields)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        lease_owner="host-a/1/driver-0", lease_token="aaaaaaaa-0000-4000-8000-000000000001"
    )
    if age:  # the update above moved the heartbeat on MariaDB: put it back
        set_heartbeat_age(apply, age)
    return reload(apply)


def test_reclaim_claims_audits_and_starts_a_drive() -> None:
    apply = leased(A.CREATING_DEPLOY_REQUEST)

    result = actions.reclaim(apply.pk, actor=WHO, reason=WHY, **seen(apply))

    row = reload(apply)
    assert result.ok and result.changed
    assert row.state == A.CREATING_DEPLOY_REQUEST  # an active claim only rotates the lease
    assert row.lease_owner == "ternadmin-console/alice"
    assert row.lease_token != apply.lease_token and result.lease == short_token(row.lease_token)
    log = ApplyLog.objects.using("schemabot").get(apply_id=apply.pk)
    assert log.source == LogSource.TERNADMIN and log.event_type == LogEvent.INFO
    assert log.message == (
        "Reclaimed by operator from creating_deploy_request (by alice: driver host lost)"
    )
    assert log.metadata["new_lease"] == result.lease and log.metadata["reason"] == WHY
    assert row.lease_token not in str(log.metadata)  # only the short token is recorded
    drive = Drive.objects.get(apply_id=apply.pk)
    assert (drive.trigger, drive.requested_by, drive.lease_token) == (
        "console",
        WHO,
        row.lease_token,
    )
    assert result.drive_id == drive.pk


def test_a_drive_that_could_not_start_is_reported_without_the_secret_in_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("dial mysql://app:s3cretpw@db:3306 failed")

    # The package exports the ``reclaim`` function under the module's name.
    monkeypatch.setattr(import_module("applies.services.actions.reclaim"), "launch_drive", refuse)
    apply = leased(A.CREATING_DEPLOY_REQUEST)
    result = actions.reclaim(apply.pk, actor=WHO, reason=WHY, **seen(apply))
    assert result.ok and "its drive could not be started (dial mysql://app:•••@db:3306" in (
        result.message
    )
    assert "s3cretpw" not in result.message and "s3cretpw" not in str(result.as_json())


def test_a_command_line_claim_needs_no_seen_value_and_writes_the_same_audit_row() -> None:
    apply = leased(A.CREATING_DEPLOY_REQUEST)
    claim = actions.claim_for_operator(
        apply.pk, actor="root", reason="manage.py recover", seen=None, owner="host-b/7/recover"
    )
    row = reload(apply)
    assert claim.apply.pk == apply.pk and claim.previous_state == A.CREATING_DEPLOY_REQUEST
    assert (row.lease_owner, row.lease_token) == ("host-b/7/recover", claim.lease.token)
    log = ApplyLog.objects.using("schemabot").get(apply_id=apply.pk)
    assert log.source == LogSource.TERNADMIN and log.event_type == LogEvent.INFO
    assert log.message == (
        "Reclaimed by operator from creating_deploy_request (by root: manage.py recover)"
    )
    assert log.metadata["owner"] == "host-b/7/recover"
    assert not Drive.objects.filter(apply_id=apply.pk).exists()  # the caller drives it


def test_a_command_line_claim_is_refused_like_the_consoles() -> None:
    apply = leased(A.RUNNING, age=FRESH)
    before = snapshot(apply)
    with pytest.raises(Refused) as caught:
        actions.claim_for_operator(apply.pk, actor="root", reason="why", seen=None)
    assert caught.value.code is Refusal.NOT_CLAIMABLE and snapshot(apply) == before


def test_the_action_table_offers_what_its_services_accept() -> None:
    assert set(actions.ACTIONS) == set(actions.Action)
    stopped = make_apply(A.STOPPED, age=FRESH)
    detail = selectors.apply_detail(stopped.pk)
    assert detail is not None
    possible = detail.possible
    assert not possible[actions.Action.STOP].allowed
    assert possible[actions.Action.STOP].why == "Stopped is terminal: there is nothing to stop."
    assert possible[actions.Action.START].allowed
    with pytest.raises(Refused, match="Stopped is terminal: there is nothing to stop"):
        actions.request_stop(stopped.pk, actor=WHO, reason=WHY, **seen(stopped))
    assert actions.request_start(stopped.pk, actor=WHO, reason=WHY, **seen(stopped)).ok
    after = selectors.apply_detail(stopped.pk)
    assert after is not None and not after.possible[actions.Action.START].allowed
    assert after.possible[actions.Action.START].why == "A start request is already pending."


def test_reclaim_of_a_queued_apply_starts_it() -> None:
    apply = make_apply(A.PENDING, age=FRESH)
    result = actions.reclaim(apply.pk, actor=WHO, reason=WHY, **seen(apply))
    assert result.ok and reload(apply).state == A.RUNNING
    log = ApplyLog.objects.using("schemabot").get(apply_id=apply.pk)
    assert (log.old_state, log.new_state) == (A.PENDING, A.RUNNING)


def test_reclaim_of_a_stopped_apply_with_a_start_request(line: Line) -> None:
    apply = make_apply(A.STOPPED, start_request=RequestStatus.PENDING)
    assert actions.reclaim(apply.pk, actor=WHO, reason=WHY, **seen(apply)).ok
    # b2349ea restarts a stopped apply as running, current upstream as resuming (#424).
    assert reload(apply).state == line.stopped_apply_claim_state


def refused(apply_id: int, **kwargs: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        actions.reclaim(apply_id, **{"actor": WHO, "reason": WHY, **kwargs})
    return caught.value


def test_reclaim_refuses_a_fresh_heartbeat_and_writes_nothing() -> None:
    apply = leased(A.RUNNING, age=FRESH)
    before = snapshot(apply)
    error = refused(apply.pk, **seen(apply))
    assert error.code is Refusal.NOT_CLAIMABLE
    assert error.message.startswith("heartbeat is fresh (")
    assert "a driver holds it" in error.message
    assert snapshot(apply) == before


def test_reclaim_refuses_when_the_driver_came_back() -> None:
    apply = leased(A.CREATING_DEPLOY_REQUEST)
    what_the_operator_saw = seen(apply)
    # Meanwhile the driver re-took its apply: a new token.
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        lease_token="bbbbbbbb-0000-4000-8000-000000000002"
    )
    before = snapshot(apply)
    error = refused(apply.pk, **what_the_operator_saw)
    assert error.code is Refusal.CHANGED
    assert "the driver came back: the lease changed since you loaded the page" in error.message
    assert snapshot(apply) == before


def test_reclaim_refuses_when_the_state_moved_on() -> None:
    apply = leased(A.CREATING_DEPLOY_REQUEST)
    before = snapshot(apply)
    error = refused(apply.pk, seen=Seen(A.VALIDATING_BRANCH, apply.lease_token))
    assert error.code is Refusal.CHANGED and "moved on" in error.message
    assert snapshot(apply) == before


def test_reclaim_refuses_an_engine_without_a_driver() -> None:
    apply = leased(A.RUNNING, engine="spirit")
    before = snapshot(apply)
    error = refused(apply.pk, **seen(apply))
    assert error.message == "ternadmin does not drive spirit"
    assert error.code is Refusal.NO_DRIVER
    assert snapshot(apply) == before


def test_reclaim_refuses_what_no_clause_takes() -> None:
    apply = make_apply(A.STOPPED)  # no start request
    before = snapshot(apply)
    error = refused(apply.pk, **seen(apply))
    assert error.code is Refusal.NOT_CLAIMABLE and error.message.startswith("not claimable now:")
    assert snapshot(apply) == before


def test_reclaim_refuses_a_missing_apply_and_a_missing_reason() -> None:
    assert refused(987_654, seen=Seen("running", "")).code is Refusal.NOT_FOUND
    apply = leased(A.RUNNING)
    before = snapshot(apply)
    assert refused(apply.pk, reason="  ", **seen(apply)).code is Refusal.INVALID
    assert snapshot(apply) == before


def test_a_stopped_start_refused_by_an_active_apply_on_the_target_rolls_back() -> None:
    apply = make_apply(A.STOPPED, start_request=RequestStatus.PENDING)
    make_apply(
        A.RUNNING, age=FRESH, database_name=apply.database_name, plan=apply.plan, lock=apply.lock
    )
    before = snapshot(apply)
    error = refused(apply.pk, **seen(apply))
    assert "start refused: another active apply exists" in error.message
    assert snapshot(apply) == before  # the start request is not failed by a refused console claim


def test_bulk_reclaim_reports_each_apply() -> None:
    stale = leased(A.VALIDATING_BRANCH)
    fresh = leased(A.RUNNING, age=FRESH)
    items = [
        ReclaimItem(stale.pk, Seen(stale.state, stale.lease_token)),
        ReclaimItem(fresh.pk, Seen(fresh.state, fresh.lease_token)),
    ]
    first, second = actions.bulk_reclaim(items, actor=WHO, reason=WHY)
    assert first.ok and reload(stale).lease_owner == "ternadmin-console/alice"
    assert not second.ok and second.refusal is Refusal.NOT_CLAIMABLE
    assert reload(fresh).lease_owner == "host-a/1/driver-0"


# --- Control requests ------------------------------------------------------------------------


def requests_of(apply: Apply) -> list[ApplyControlRequest]:
    return list(ApplyControlRequest.objects.using("schemabot").filter(apply_id=apply.pk))


def test_request_stop_writes_a_pending_request_and_an_audit_row() -> None:
    apply = leased(A.RUNNING, age=FRESH)
    heartbeat = reload(apply).updated_at

    result = actions.request_stop(apply.pk, actor=WHO, reason=WHY, **seen(apply))

    assert result.ok and result.changed
    (request,) = requests_of(apply)
    assert (request.operation, request.status, request.requested_by) == ("stop", "pending", WHO)
    assert request.metadata == {}
    log = ApplyLog.objects.using("schemabot").get(apply_id=apply.pk)
    assert (log.event_type, log.source) == (LogEvent.STOP_REQUESTED, LogSource.TERNADMIN)
    assert reload(apply).updated_at == heartbeat  # a request never touches the heartbeat


def test_a_second_request_while_pending_is_a_no_op() -> None:
    apply = leased(A.RUNNING, age=FRESH)
    actions.request_stop(apply.pk, actor=WHO, reason=WHY, **seen(apply))
    before = snapshot(apply)
    again = actions.request_stop(apply.pk, actor="bob", reason=WHY, **seen(apply))
    assert again.ok and not again.changed and "already pending" in again.message
    assert snapshot(apply) == before


def test_a_finished_request_row_is_reused() -> None:
    apply = make_apply(A.STOPPED, age=FRESH)
    ApplyControlRequestFactory(
        apply=apply,
        operation=ControlOperation.START,
        status=RequestStatus.FAILED,
        error_message="start refused: another active apply exists",
        requested_by="carol",
    )
    result = actions.request_start(apply.pk, actor=WHO, reason=WHY, **seen(apply))
    assert result.ok
    (request,) = requests_of(apply)
    assert (request.status, request.requested_by) == (RequestStatus.PENDING, WHO)
    assert request.error_message is None and request.completed_at is None


@pytest.mark.parametrize(
    ("action", "state", "expected"),
    [
        (actions.request_stop, A.COMPLETED, "Completed is terminal: there is nothing to stop"),
        (actions.request_stop, A.STOPPED, "Stopped is terminal: there is nothing to stop"),
        (actions.request_start, A.RUNNING, "only stopped or waiting-for-deploy applies"),
    ],
)
def test_requests_refused_in_the_wrong_state(action: Any, state: str, expected: str) -> None:
    apply = make_apply(state, age=FRESH)
    before = snapshot(apply)
    with pytest.raises(Refused, match=expected):
        action(apply.pk, actor=WHO, reason=WHY, **seen(apply))
    assert snapshot(apply) == before


def test_request_start_of_a_deferred_deploy() -> None:
    apply = leased(A.WAITING_FOR_DEPLOY, age=FRESH)
    assert actions.request_start(apply.pk, actor=WHO, reason=WHY, **seen(apply)).ok
    assert [r.operation for r in requests_of(apply)] == ["start"]


def test_requests_refused_when_the_lease_changed() -> None:
    apply = leased(A.RUNNING, age=FRESH)
    saw = seen(apply)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(lease_token="c" * 36)
    before = snapshot(apply)
    with pytest.raises(Refused, match="the driver came back"):
        actions.request_stop(apply.pk, actor=WHO, reason=WHY, **saw)
    assert snapshot(apply) == before


# --- Under contention (MariaDB) --------------------------------------------------------------


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"], transaction=True)
def test_two_operators_reclaiming_at_once_one_wins() -> None:
    apply = leased(A.APPLYING_BRANCH_CHANGES)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def operator(name: str) -> None:
        barrier.wait()
        try:
            actions.reclaim(apply.pk, actor=name, reason=WHY, **seen(apply))
            outcomes.append("won")
        except Refused as refused:
            outcomes.append(refused.code.value)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=operator, args=(n,)) for n in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed", "won"] or sorted(outcomes) == ["not_claimable", "won"]
    assert ApplyLog.objects.using("schemabot").filter(apply_id=apply.pk).count() == 1
    assert Drive.objects.filter(apply_id=apply.pk).count() == 1


def test_reclaim_of_a_multi_operation_apply_is_left_to_schemabot() -> None:
    apply = make_apply(A.RUNNING)
    ApplyOperation.objects.using("schemabot").create(
        apply=apply, deployment="west", state=A.RUNNING
    )
    before = snapshot(apply)
    caught = refused(apply.pk, **seen(apply))
    assert caught.code is Refusal.NO_DRIVER
    assert "SchemaBot's own operator claims it" in str(caught)
    assert snapshot(apply) == before
