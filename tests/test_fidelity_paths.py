"""Current upstream's claim paths (the operation cutover claim, stop reconciliation, the
stopped+cancel arm) and upstream's claim writes (completed_at on starting claims, expiry),
each for both lines: on b2349ea the paths do not exist and the writes are b2349ea's.
"""

from __future__ import annotations

from typing import Any

import pytest

from applies import claims
from applies.clauses import Clause
from applies.dbclock import SecondsAgo
from applies.expiry import expire_retryable
from applies.lines import Line
from applies.models import Apply, ApplyControlRequest, ApplyOperation, Task
from applies.operation_claims import find_next_cutover_claim
from applies.states import ApplyState, TaskState
from applies.stop_reconciliation import find_next_stop_reconciliation
from tests.claim_fixtures import FRESH, STALE, make_apply, operation_of, reload, request, rollout
from tests.factories import TaskFactory, set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
OWNER = "ternadmin-test/1/sweep"
OPS = ApplyOperation.objects.using("schemabot")
APPLIES = Apply.objects.using("schemabot")


def requests(apply: Apply) -> dict[str, tuple[str, str | None]]:
    rows = ApplyControlRequest.objects.using("schemabot").filter(apply=apply)
    return {r.operation: (r.status, r.error_message) for r in rows}


# --- the operation cutover claim (#398/#430) ------------------------------------------------------


def cutover_claim() -> tuple[int, Clause] | None:
    claim = find_next_cutover_claim(OWNER)
    return (claim.operation.pk, claim.clause) if claim else None


def test_a_parked_row_cuts_over_when_every_earlier_sibling_completed(line: Line) -> None:
    _, (_, parked) = rollout(A.COMPLETED, A.WAITING_FOR_CUTOVER, policy="barrier")
    found = cutover_claim()
    if not line.cutover_claim:
        assert found is None and OPS.get(pk=parked.pk).state == A.WAITING_FOR_CUTOVER
        return
    assert found == (parked.pk, Clause.CUTOVER_START)
    row = OPS.get(pk=parked.pk)
    assert (row.state, row.lease_owner) == (A.CUTTING_OVER, OWNER)
    assert cutover_claim() is None


@pytest.mark.parametrize(
    ("earlier", "on_failure", "claimable"),
    [
        (A.WAITING_FOR_CUTOVER, "halt", False),  # the swaps never overlap
        (A.CUTTING_OVER, "halt", False),
        (A.FAILED, "halt", False),
        (A.FAILED, "continue", True),
    ],
)
def test_the_cutover_turn(settings: Any, earlier: str, on_failure: str, claimable: bool) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    _, (_, parked) = rollout(
        earlier, A.WAITING_FOR_CUTOVER, policy="barrier", on_failure=on_failure
    )
    # An earlier parked sibling takes its own turn first; the later one waits for it.
    taken = [cutover_claim(), cutover_claim()]
    assert ((parked.pk, Clause.CUTOVER_START) in taken) == claimable


@pytest.mark.parametrize(
    "setup",
    ["stop_pending", "defer_cutover", "rolling", "single_operation", "parallel"],
)
def test_what_the_cutover_claim_leaves_alone(settings: Any, setup: str) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    states = (
        (A.WAITING_FOR_CUTOVER,)
        if setup == "single_operation"
        else (
            A.COMPLETED,
            A.WAITING_FOR_CUTOVER,
        )
    )
    policy = {"rolling": "rolling", "parallel": "parallel"}.get(setup, "barrier")
    options = {"defer_cutover": True} if setup == "defer_cutover" else {}
    apply, operations = rollout(*states, policy=policy, options=options)
    if setup == "stop_pending":
        request(apply, "stop")
    expected = (operations[-1].pk, Clause.CUTOVER_START) if setup == "parallel" else None
    assert cutover_claim() == expected  # parallel cuts over in order like barrier (#540)


def test_defer_cutover_must_be_exactly_json_true(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    _, (_, parked) = rollout(
        A.COMPLETED, A.WAITING_FOR_CUTOVER, policy="barrier", options={"defer_cutover": "true"}
    )
    assert cutover_claim() == (parked.pk, Clause.CUTOVER_START)


@pytest.mark.parametrize("state", [A.CUTTING_OVER, A.REVERT_WINDOW])
def test_a_stale_cutover_is_recovered_without_an_ordering_gate(settings: Any, state: str) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    _, (_, row) = rollout(A.RUNNING, state, policy="barrier", age=FRESH)
    assert cutover_claim() is None  # fresh: its driver is alive
    set_heartbeat_age(row, STALE)
    assert cutover_claim() == (row.pk, Clause.CUTOVER_RECOVERY)
    assert OPS.get(pk=row.pk).state == state  # recovered, not re-started


# --- stop reconciliation (#581) ---------------------------------------------------------------


def test_a_stop_no_operation_carries_is_claimed_for_reconciliation(line: Line) -> None:
    apply, (op,) = rollout(A.PENDING, parent_state=A.RUNNING, age=FRESH)
    request(apply, "stop")
    claim = find_next_stop_reconciliation(OWNER, engines=["planetscale"])
    if not line.stop_reconciliation:
        assert claim is None
        return
    assert claim is not None and claim.apply.pk == apply.pk
    assert claim.clause is Clause.STOP_RECONCILIATION
    row = reload(apply)
    assert (row.state, row.lease_token) == (A.RUNNING, claim.lease.token)
    # Claimed once per stop request: the new lease is newer than the request.
    assert find_next_stop_reconciliation(OWNER) is None
    set_heartbeat_age(apply, STALE)  # unless the reconciliation's own driver died
    assert find_next_stop_reconciliation(OWNER) is not None


def test_a_pending_apply_starts_for_its_stop_reconciliation(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    apply, _ = rollout(A.PENDING, parent_state=A.PENDING)
    APPLIES.filter(pk=apply.pk).update(completed_at=SecondsAgo(10))
    request(apply, "stop")
    assert find_next_stop_reconciliation(OWNER) is not None
    row = reload(apply)
    assert (row.state, row.completed_at) == (A.RUNNING, None)


@pytest.mark.parametrize(
    ("operations", "parent", "claimable"),
    [
        ((A.FAILED, A.PENDING), A.RUNNING, True),  # on_failure continue left a pending sibling
        ((A.PENDING,), A.PAUSED, True),
        ((A.RUNNING, A.PENDING), A.RUNNING, False),  # the running operation carries the stop
        ((A.COMPLETED,), A.RUNNING, False),  # nothing pending
        ((A.PENDING,), A.FAILED_RETRYABLE, False),  # has its own path
        ((A.PENDING,), A.STOPPED, False),
    ],
)
def test_what_stop_reconciliation_takes(
    settings: Any, operations: tuple[str, ...], parent: str, claimable: bool
) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    apply, _ = rollout(*operations, parent_state=parent)
    request(apply, "stop")
    claim = find_next_stop_reconciliation(OWNER)
    assert (claim is not None) == claimable


def test_stop_reconciliation_leaves_multi_operation_applies_to_schemabot(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    apply, _ = rollout(A.FAILED, A.PENDING)
    request(apply, "stop")
    assert find_next_stop_reconciliation(OWNER, engines=["planetscale"]) is None
    assert find_next_stop_reconciliation(OWNER) is not None  # upstream's claim does take it


# --- the stopped+cancel arm ---------------------------------------------------------------------


def test_a_cancel_claims_a_stopped_apply_to_deliver_it(line: Line) -> None:
    apply = make_apply(A.STOPPED, age=FRESH)
    request(apply, "cancel")
    request(apply, "start")
    claim = claims.find_next_apply_claim(OWNER)
    if not line.stopped_cancel:
        # b2349ea has no cancel: the start request claims it, to restart.
        assert claim is not None and claim.clause is Clause.STOPPED_START
        assert reload(apply).state == A.RUNNING
        return
    assert claim is not None and claim.clause is Clause.STOPPED_CANCEL
    row = reload(apply)
    assert (row.state, row.lease_token) == (A.STOPPED, claim.lease.token)
    # Cancel wins over the start pending beside it: the start can never run now.
    assert requests(apply)["start"] == (
        "failed",
        "start refused: a cancel request is pending for this apply",
    )
    assert requests(apply)["cancel"] == ("pending", None)  # delivered by the drive


def test_a_cancel_older_than_the_lease_is_not_claimed_again(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    apply = make_apply(A.STOPPED, age=FRESH)
    request(apply, "cancel", age=120)
    APPLIES.filter(pk=apply.pk).update(lease_acquired_at=SecondsAgo(60), updated_at=SecondsAgo(0))
    assert claims.find_next_apply_claim(OWNER) is None
    set_heartbeat_age(apply, STALE)  # the delivering driver died
    claim = claims.find_next_apply_claim(OWNER)
    assert claim is not None and claim.clause is Clause.STOPPED_CANCEL


def test_a_cancel_claims_a_stopped_operation_row(line: Line) -> None:
    from applies.operation_claims import find_next_operation_claim

    apply, (op,) = rollout(A.STOPPED, parent_state=A.STOPPED)
    request(apply, "cancel")
    claim = find_next_operation_claim(OWNER)
    if not line.stopped_cancel:
        assert claim is None
        return
    assert claim is not None and claim.clause is Clause.STOPPED_CANCEL
    assert OPS.get(pk=op.pk).state == A.RESUMING


# --- starting claims clear completed_at ----------------------------------------------------------


@pytest.mark.parametrize("state", [A.PENDING, A.FAILED_RETRYABLE, A.STOPPED])
def test_every_starting_claim_clears_completed_at(line: Line, state: str) -> None:
    apply = make_apply(state, start_request="pending" if state == A.STOPPED else None)
    APPLIES.filter(pk=apply.pk).update(completed_at=SecondsAgo(30))
    claim = claims.claim_apply(apply.pk, OWNER)
    assert claim is not None
    row = reload(apply)
    assert row.completed_at is None
    assert row.state == (line.stopped_apply_claim_state if state == A.STOPPED else A.RUNNING)


# --- ExpireRetryable's writes --------------------------------------------------------------------


def test_expiry_writes_as_the_line_does(line: Line) -> None:
    apply = make_apply(A.FAILED_RETRYABLE, attempt=10, tasks=0)
    op = operation_of(apply)
    OPS.filter(pk=op.pk).update(state=A.FAILED_RETRYABLE, completed_at=SecondsAgo(3600))
    pending = TaskFactory.create(apply=apply, apply_operation=op, state=TaskState.PENDING)
    running = TaskFactory.create(apply=apply, apply_operation=op, state=TaskState.FAILED_RETRYABLE)
    APPLIES.filter(pk=apply.pk).update(completed_at=SecondsAgo(7200), updated_at=SecondsAgo(60))
    before, operation_before = reload(apply), OPS.get(pk=op.pk)

    assert [e.apply_id for e in expire_retryable()] == [apply.pk]

    tasks = {t.pk: t for t in Task.objects.using("schemabot").filter(apply=apply)}
    row, operation = reload(apply), OPS.get(pk=op.pk)
    assert row.state == A.FAILED
    assert tasks[running.pk].state == TaskState.FAILED
    # On both lines (COALESCE) an earlier completion time is kept.
    assert row.completed_at == before.completed_at
    if line.name == "current":
        assert tasks[pending.pk].state == TaskState.CANCELLED  # it never ran
        assert operation.state == A.FAILED  # #485
        assert operation.completed_at == operation_before.completed_at
    else:
        assert tasks[pending.pk].state == TaskState.FAILED
        assert operation.state == A.FAILED_RETRYABLE
    assert all(t.completed_at is not None for t in tasks.values())


# --- one active apply per target, under SchemaBot's GET_LOCK -----------------------------------


def test_a_stopped_start_checks_every_deployment_of_its_operations(line: Line) -> None:
    apply, _ = rollout(A.STOPPED, parent_state=A.STOPPED, deployments=("west",))
    request(apply, "start")
    make_apply(A.RUNNING, database_name=apply.database_name, deployment="west", age=FRESH)

    claim = claims.claim_apply(apply.pk, OWNER)

    if line.operation_targets:  # #396: the operation's deployment is taken
        assert claim is None
        assert reload(apply).state == A.STOPPED
        status, message = requests(apply)["start"]
        assert status == "failed" and message is not None
        assert message.startswith("start refused: another active apply exists for")
    else:  # b2349ea checks the parent's deployment only ("default" here)
        assert claim is not None and reload(apply).state == A.RUNNING
