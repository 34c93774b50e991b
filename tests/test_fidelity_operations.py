"""Operation-level claims as the configured SchemaBot line makes them: every gate of upstream
``FindNextApplyOperation`` (pkg/storage/mysqlstore/apply_operations.go), each with a case it
lets through and a case it stops, run for both lines (``line`` fixture). SQLite and MariaDB;
the row-lock cases at the end need MariaDB.
"""

from __future__ import annotations

import threading
from typing import Any

import MySQLdb
import pytest

from applies import operation_claims
from applies.clauses import Clause
from applies.dbclock import DbNow, SecondsAgo
from applies.lines import CURRENT, Line
from applies.models import Apply, ApplyOperation
from applies.operation_claims import claim_through_operation, find_next_operation_claim
from applies.states import ApplyState
from tests.claim_fixtures import (
    FRESH,
    STALE,
    operation_column,
    reload,
    request,
    rollout,
    set_operation_columns,
)
from tests.factories import set_heartbeat_age
from tests.helpers import mariadb_server

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
OWNER = "ternadmin-test/1/sweep"
OPS = ApplyOperation.objects.using("schemabot")


def state_of(operation: ApplyOperation) -> str:
    return OPS.get(pk=operation.pk).state


def claimed_id() -> int | None:
    claim = find_next_operation_claim(OWNER)
    return claim.operation.pk if claim else None


# --- the pending-stop gate ---------------------------------------------------------------------


def test_no_pending_operation_starts_while_a_stop_is_pending(line: Line) -> None:
    apply, (op,) = rollout(A.PENDING)
    request(apply, "stop")
    if line.pending_stop_gate:
        assert claimed_id() is None
        assert state_of(op) == A.PENDING
    else:
        assert claimed_id() == op.pk  # b2349ea's claim has no stop gate


def test_a_stop_that_is_no_longer_pending_does_not_gate(line: Line) -> None:
    apply, (op,) = rollout(A.PENDING)
    request(apply, "stop", status="completed")
    assert claimed_id() == op.pk


def test_a_stop_committed_between_the_read_and_the_write_wins(line: Line) -> None:
    # The row was read as claimable; the stop lands before the claim's UPDATE.
    apply, (op,) = rollout(A.PENDING)
    row = OPS.annotate(db_now=DbNow()).get(pk=op.pk)
    request(apply, "stop")

    claim = operation_claims._write_operation_claim(row, Clause.DEPLOYMENT_ORDER, OWNER, line)

    if line.pending_stop_gate:
        assert claim is None
        assert (state_of(op), OPS.get(pk=op.pk).lease_token) == (A.PENDING, "")
    else:
        assert claim is not None and state_of(op) == A.RUNNING


def test_the_stop_gate_leaves_a_stale_active_row_to_its_recovery(line: Line) -> None:
    apply, (op,) = rollout(A.RUNNING, age=STALE)
    request(apply, "stop")
    assert claimed_id() == op.pk


# --- deployment order, each row by its own cutover policy --------------------------------------


@pytest.mark.parametrize(
    ("earlier", "policy", "claimable"),
    [
        (A.COMPLETED, "rolling", True),
        (A.WAITING_FOR_CUTOVER, "rolling", False),
        (A.RUNNING, "rolling", False),
        (A.WAITING_FOR_CUTOVER, "barrier", True),
        (A.CUTTING_OVER, "barrier", True),
        (A.REVERT_WINDOW, "barrier", True),
        (A.RUNNING, "barrier", False),
        (A.FAILED_RETRYABLE, "barrier", False),
        (A.FAILED, "barrier", False),
    ],
)
def test_the_deployment_order_gate(line: Line, earlier: str, policy: str, claimable: bool) -> None:
    _, (first, second) = rollout(earlier, A.PENDING, policy=policy)
    expected = second.pk if claimable else None
    assert claimed_id() == expected
    assert state_of(first) == earlier


@pytest.mark.parametrize(
    ("earlier_policy", "row_policy"), [("barrier", "rolling"), ("rolling", "barrier")]
)
def test_the_gate_reads_the_pending_rows_own_policy(
    line: Line, earlier_policy: str, row_policy: str
) -> None:
    # The earlier sibling is parked at the barrier: only a barrier row may start past it.
    _, (first, second) = rollout(A.WAITING_FOR_CUTOVER, A.PENDING)
    OPS.filter(pk=first.pk).update(cutover_policy=earlier_policy)
    OPS.filter(pk=second.pk).update(cutover_policy=row_policy)
    assert claimed_id() == (second.pk if row_policy == "barrier" else None)


def test_a_parallel_row_starts_while_earlier_siblings_copy(line: Line) -> None:
    _, (_, second) = rollout(A.RUNNING, A.PENDING, policy="parallel")
    # #540 on the current line; b2349ea does not know parallel and serializes it.
    assert claimed_id() == (second.pk if line.parallel_policy else None)


@pytest.mark.parametrize("on_failure", ["halt", "continue"])
def test_a_failed_earlier_sibling_blocks_unless_the_row_continues(
    line: Line, on_failure: str
) -> None:
    _, (_, second) = rollout(A.FAILED, A.PENDING, on_failure=on_failure, age=STALE)
    assert claimed_id() == (second.pk if on_failure == "continue" else None)


@pytest.mark.parametrize("release", [None, "pending", "completed", "failed"])
def test_a_released_pause_lets_the_rollout_past_a_failed_sibling(
    line: Line, release: str | None
) -> None:
    apply, (_, second) = rollout(A.FAILED, A.PENDING, on_failure="pause")
    if release:
        request(apply, "release", status=release)
    latched = release in ("pending", "completed") and line.released_pause
    assert claimed_id() == (second.pk if latched else None)


def test_shard_work_of_one_deployment_is_not_ordered_against_itself(line: Line) -> None:
    _, (_, second) = rollout(
        A.RUNNING, A.PENDING, deployments=("eu", "eu"), keys=("ks/-80", "ks/80-")
    )
    # #491 on the current line; at b2349ea an earlier row of any deployment gates.
    assert claimed_id() == (second.pk if line.shard_siblings else None)


@pytest.mark.parametrize(("work_state", "claimable"), [(A.RUNNING, False), (A.COMPLETED, True)])
def test_a_group_finalizer_waits_for_its_namespaces_work(
    settings: Any, work_state: str, claimable: bool
) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    # The running row is another namespace's work: it does not hold this finalizer.
    _, (_, _, finalizer) = rollout(
        work_state,
        A.RUNNING,
        A.PENDING,
        deployments=("eu", "eu", "eu"),
        keys=("ks/-80", "other/-80", "ks"),
    )
    set_operation_columns(finalizer, operation_kind="group_finalizer")
    assert claimed_id() == (finalizer.pk if claimable else None)


# --- stale rows parked at the cutover barrier (#417) --------------------------------------------


@pytest.mark.parametrize("policy", ["barrier", "rolling"])
def test_a_parked_multi_operation_row_is_left_to_the_cutover_claim(line: Line, policy: str) -> None:
    _, (_, parked) = rollout(A.COMPLETED, A.WAITING_FOR_CUTOVER, policy=policy, age=STALE)
    exempt = line.barrier_park_exemption and policy == "barrier"
    assert claimed_id() == (None if exempt else parked.pk)


def test_a_parked_single_operation_row_is_still_recovered(line: Line) -> None:
    _, (parked,) = rollout(A.WAITING_FOR_CUTOVER, policy="barrier", age=STALE)
    assert claimed_id() == parked.pk


# --- stopped and deferred-deploy rows -----------------------------------------------------------


def test_a_stopped_row_with_a_start_request_moves_to_the_lines_state(line: Line) -> None:
    apply, (op,) = rollout(A.STOPPED, parent_state=A.STOPPED)
    request(apply, "start")
    claim = find_next_operation_claim(OWNER)
    assert claim is not None and claim.clause is Clause.STOPPED_START
    # Current upstream moves it out of stopped (so no peer re-matches it); b2349ea keeps it.
    assert state_of(op) == (line.stopped_operation_claim_state or A.STOPPED)
    assert OPS.get(pk=op.pk).lease_token == claim.lease.token


@pytest.mark.parametrize("operation_state", [A.RUNNING, A.WAITING_FOR_DEPLOY])
def test_a_deferred_deploy_start_request(line: Line, operation_state: str) -> None:
    apply, (op,) = rollout(operation_state, parent_state=A.WAITING_FOR_DEPLOY)
    OPS.filter(pk=op.pk).update(lease_acquired_at=SecondsAgo(30), updated_at=SecondsAgo(0))
    request(apply, "start")
    # #436 keys the clause on the parent (the row stays running, or any claimable state);
    # b2349ea on the row itself being waiting_for_deploy.
    claimable = line.deferred_deploy_on_parent or operation_state == A.WAITING_FOR_DEPLOY
    claim = find_next_operation_claim(OWNER)
    if claimable:
        assert claim is not None and claim.clause is Clause.DEFERRED_DEPLOY_START
        assert find_next_operation_claim(OWNER) is None  # the new lease is newer
    else:
        assert claim is None


# --- retries: attempts on the row and on the parent (#513, #485) --------------------------------


def test_a_multi_operation_retry_counts_on_the_row_and_the_parent(line: Line) -> None:
    apply, (op, _) = rollout(A.FAILED_RETRYABLE, A.COMPLETED, parent_state=A.FAILED_RETRYABLE)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        attempt=3, updated_at=SecondsAgo(30)
    )

    claim = find_next_operation_claim(OWNER)

    assert claim is not None and claim.operation.pk == op.pk and claim.clause is Clause.RETRY
    counted = line.operation_attempts
    assert operation_column(op, "attempt") == (1 if counted else 0)
    parent = reload(apply)
    assert parent.attempt == (4 if counted else 3)
    assert parent.state == A.FAILED_RETRYABLE  # the parent's own claim moves it on


def test_a_single_operation_retry_leaves_the_parent_to_its_own_claim(line: Line) -> None:
    apply, (op,) = rollout(A.FAILED_RETRYABLE, parent_state=A.FAILED_RETRYABLE)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(attempt=3)
    assert claimed_id() == op.pk
    assert operation_column(op, "attempt") == (1 if line.operation_attempts else 0)
    assert reload(apply).attempt == 3


def test_a_crash_re_lease_of_a_retry_counts_nothing(line: Line) -> None:
    # The retry was admitted (the parent runs), then its driver died: recovery, no redispatch.
    apply, (op, _) = rollout(A.FAILED_RETRYABLE, A.COMPLETED, parent_state=A.RUNNING, age=STALE)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        attempt=10, updated_at=SecondsAgo(STALE)
    )
    assert claimed_id() == op.pk
    assert (operation_column(op, "attempt"), reload(apply).attempt) == (0, 10)


def test_the_parents_budget_is_never_overshot(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    apply, (first, second, _) = rollout(
        A.FAILED_RETRYABLE, A.FAILED_RETRYABLE, A.COMPLETED, parent_state=A.FAILED_RETRYABLE
    )
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(attempt=9)
    late = OPS.annotate(db_now=DbNow()).get(pk=second.pk)  # a peer read it as claimable too
    assert claimed_id() == first.pk
    assert reload(apply).attempt == 10
    assert claimed_id() is None  # the budget is spent: the retry clause is closed

    operation_claims._write_operation_claim(late, Clause.RETRY, OWNER, CURRENT)

    assert reload(apply).attempt == 10
    assert operation_column(second, "attempt") == 1  # the row's own count is local to it


# --- the parent that cannot be claimed ----------------------------------------------------------


def test_a_live_parent_undoes_the_operation_claim_on_the_current_line(line: Line) -> None:
    # SchemaBot's driver holds the parent (fresh); ternadmin leased its stale operation row.
    apply, (op,) = rollout(A.RUNNING, age=FRESH)
    set_heartbeat_age(op, STALE)

    assert claim_through_operation(OWNER) is None

    row = OPS.get(pk=op.pk)
    assert reload(apply).lease_token == ""  # the parent was never taken
    if line.release_unclaimable_operation:
        assert (row.lease_owner, row.lease_token, row.lease_acquired_at) == ("", "", None)
        assert claimed_id() == op.pk  # stale again at once: the next pass retries it
    else:
        assert row.lease_owner == OWNER  # b2349ea keeps it leased until it goes stale
        assert claimed_id() is None


@pytest.mark.parametrize("parent", [A.FAILED, A.STOPPED, A.CANCELLED, A.COMPLETED])
def test_a_terminal_parents_state_is_taken_onto_its_operation(line: Line, parent: str) -> None:
    apply, (op,) = rollout(A.RUNNING, parent_state=parent, age=STALE)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(error_message="deploy errored")

    assert claim_through_operation(OWNER) is None

    row = OPS.get(pk=op.pk)
    assert row.state == parent
    assert (row.completed_at is None) == (parent == A.STOPPED)
    assert row.error_message == ("deploy errored" if parent == A.FAILED else None)
    assert claimed_id() is None  # no longer claimed on every pass


def test_a_failed_parent_without_an_error_leaves_the_operations_error_null(line: Line) -> None:
    apply, (op,) = rollout(A.RUNNING, parent_state=A.FAILED, age=STALE)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(error_message="")

    assert claim_through_operation(OWNER) is None

    row = OPS.get(pk=op.pk)
    assert (row.state, row.error_message) == (A.FAILED, None)  # MarkFailed: nullString("")


def test_the_parent_claim_carries_the_operation_lease(line: Line) -> None:
    apply, (op,) = rollout(A.RUNNING, age=STALE)
    claim = claim_through_operation(OWNER, engines=["planetscale"])
    assert claim is not None and claim.apply.pk == apply.pk
    assert claim.operation_lease is not None
    assert claim.operation_lease.row_id == op.pk
    assert claim.operation_lease.token == OPS.get(pk=op.pk).lease_token


def test_ternadmin_never_claims_a_multi_operation_apply(line: Line) -> None:
    _, operations = rollout(A.RUNNING, A.PENDING, age=STALE)
    assert claim_through_operation(OWNER, engines=["planetscale"]) is None
    assert {row.lease_token for row in OPS.filter(pk__in=[o.pk for o in operations])} == {""}


# --- real row locks (MariaDB) --------------------------------------------------------------------


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])
def test_a_row_a_peer_holds_locked_is_skipped_not_waited_for(line: Line) -> None:
    _, (op,) = rollout(A.PENDING)
    peer = MySQLdb.connect(**mariadb_server(), database=_schemabot_name())
    peer.cursor().execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    peer.cursor().execute("BEGIN")
    peer.cursor().execute("SELECT id FROM apply_operations WHERE id = %s FOR UPDATE", [op.pk])
    try:
        assert claimed_id() is None  # SKIP LOCKED: no wait, no claim
    finally:
        peer.rollback()
        peer.close()
    assert claimed_id() == op.pk


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])
def test_eight_claimers_race_for_one_pending_operation(line: Line) -> None:
    _, (op,) = rollout(A.PENDING)
    won: list[int] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        from django.db import connections

        barrier.wait()
        try:
            claim = find_next_operation_claim(OWNER)
            if claim is not None:
                won.append(claim.operation.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert won == [op.pk]
    assert state_of(op) == A.RUNNING


def _schemabot_name() -> str:
    from django.conf import settings

    return str(settings.DATABASES["schemabot"]["NAME"])
