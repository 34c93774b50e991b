"""Claim paths against SchemaBot's semantics (docs/schemabot.md, "Claims"), with upstream
integration/operator_test.go ``TestOperator_ClaimableStates`` extended to every state.

These run on both backends: SQLite for the demo's single process, MariaDB for the real thing.
"""

from __future__ import annotations

import pytest

from applies import claims, operation_claims, states
from applies.classify import classify
from applies.clauses import Clause
from applies.dbclock import SecondsAgo
from applies.leases import LeaseLost, check_lease, guarded_update, heartbeat_many
from applies.lines import Line
from applies.models import Apply, ApplyControlRequest, ApplyOperation
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply, operation_of, reload
from tests.factories import ApplyFactory, ApplyOperationFactory, TaskFactory, set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
OWNER = "test-host/1/driver-0"
UNKNOWN_STATE = "teleporting"
ALL_STATES = [*states.APPLY_STATES, UNKNOWN_STATE]


def expected_apply_clause(state: str, age: int, line: Line) -> Clause | None:
    """What SchemaBot's FindNextApply takes: an apply with one task and one operation."""
    if state == A.PENDING:
        return Clause.QUEUED
    if state == A.FAILED_RETRYABLE:
        return Clause.RETRY  # attempt 0, updated within the day: no staleness needed
    if line.claimable(state) and age >= STALE:
        return Clause.STALE_ACTIVE
    return None


@pytest.mark.parametrize("age", [FRESH, STALE], ids=["fresh", "stale"])
@pytest.mark.parametrize("state", ALL_STATES)
def test_apply_claim_matrix(state: str, age: int, line: Line) -> None:
    apply = make_apply(state, age=age)
    expected = expected_apply_clause(state, age, line)

    assert classify(apply).clause == expected
    claim = claims.find_next_apply_claim(OWNER)

    if expected is None:
        assert claim is None
        row = reload(apply)
        assert (row.state, row.lease_token) == (state, "")
        return
    assert claim is not None and claim.apply.pk == apply.pk
    assert claim.clause == expected
    row = reload(apply)
    starting = state in (A.PENDING, A.FAILED_RETRYABLE)
    assert row.state == (A.RUNNING if starting else state)
    assert row.lease_owner == OWNER and len(row.lease_token) == 36
    assert row.lease_token == claim.apply.lease_token == claim.lease.token
    assert row.lease_acquired_at is not None
    assert row.attempt == (1 if state == A.FAILED_RETRYABLE else 0)
    # The claim refreshed the heartbeat: an immediate re-claim finds nothing.
    assert claims.find_next_apply(OWNER) is None


def expected_operation_clause(state: str, age: int, line: Line) -> Clause | None:
    """What FindNextApplyOperation takes: one operation whose parent is in the same state."""
    if state == A.PENDING:
        return Clause.DEPLOYMENT_ORDER
    if line.claimable(state) and age >= STALE:
        return Clause.STALE_ACTIVE
    if state == A.FAILED_RETRYABLE:
        return Clause.RETRY  # parent failed_retryable, under budget and fresh
    return None


@pytest.mark.parametrize("age", [FRESH, STALE], ids=["fresh", "stale"])
@pytest.mark.parametrize("state", ALL_STATES)
def test_operation_claim_matrix(state: str, age: int, line: Line) -> None:
    apply = make_apply(state, age=age)
    operation = operation_of(apply)
    expected = expected_operation_clause(state, age, line)

    claim = operation_claims.find_next_operation_claim(OWNER)

    if expected is None:
        assert claim is None
        assert operation_of(apply).lease_token == ""
        return
    assert claim is not None and claim.operation.pk == operation.pk
    assert claim.clause == expected
    row = operation_of(apply)
    assert row.state == (A.RUNNING if state == A.PENDING else state)
    assert row.lease_token == claim.lease.token and row.lease_owner == OWNER
    if state == A.PENDING:
        assert row.started_at is not None
    if state == A.FAILED_RETRYABLE:
        # The operation row keeps its state; the parent's claim that the operation loop makes
        # next moves the parent to running, which closes the retry clause.
        assert claims.claim_apply_by_id(apply.pk, OWNER) is not None
    assert operation_claims.find_next_apply_operation(OWNER) is None


# --- the setup-phase fix (#302) -----------------------------------------------------------------


@pytest.mark.parametrize("state", states.SETUP_PHASE_STATES)
def test_stale_setup_phase_is_claimed_and_keeps_its_state(state: str) -> None:
    apply = make_apply(state, age=FRESH, engine="planetscale", database_type="vitess")
    assert claims.find_next_apply(OWNER) is None  # fresh: a driver holds it

    set_heartbeat_age(apply, STALE)
    claimed = claims.find_next_apply(OWNER)

    assert claimed is not None and claimed.pk == apply.pk
    row = reload(apply)
    assert (row.state, row.engine, row.lease_owner) == (state, "planetscale", OWNER)
    assert row.lease_token


def test_claim_by_id_claims_stale_setup_phase() -> None:
    apply = make_apply(A.APPLYING_BRANCH_CHANGES, age=FRESH)
    assert claims.claim_apply_by_id(apply.pk, OWNER) is None
    set_heartbeat_age(apply, STALE)

    claimed = claims.claim_apply_by_id(apply.pk, OWNER)

    assert claimed is not None and claimed.state == A.APPLYING_BRANCH_CHANGES
    assert claims.claim_apply_by_id(apply.pk, OWNER) is None


def test_operation_path_recovers_stale_setup_phase_then_its_parent() -> None:
    apply = make_apply(A.APPLYING_BRANCH_CHANGES, age=STALE)
    operation = operation_of(apply)
    ApplyOperation.objects.using("schemabot").filter(pk=operation.pk).update(
        state=A.RUNNING, updated_at=SecondsAgo(STALE)
    )

    claimed_op = operation_claims.find_next_apply_operation(OWNER)
    parent = claims.claim_apply_by_id(apply.pk, OWNER)

    assert claimed_op is not None and claimed_op.pk == operation.pk
    assert claimed_op.state == A.RUNNING
    assert parent is not None and parent.state == A.APPLYING_BRANCH_CHANGES


# --- the other clauses --------------------------------------------------------------------------


def test_claim_by_id_of_a_missing_apply_is_none() -> None:
    assert claims.claim_apply_by_id(987_654_321, OWNER) is None


def test_an_owner_is_required() -> None:
    make_apply(A.RUNNING)
    with pytest.raises(claims.ClaimError):
        claims.find_next_apply("  ")


def test_oldest_created_first() -> None:
    newer = make_apply(A.RUNNING)
    older = make_apply(A.VALIDATING_BRANCH)
    Apply.objects.using("schemabot").filter(pk=older.pk).update(
        created_at=SecondsAgo(3600), updated_at=SecondsAgo(STALE)
    )

    first = claims.find_next_apply(OWNER)
    second = claims.find_next_apply(OWNER)

    assert first is not None and first.pk == older.pk
    assert second is not None and second.pk == newer.pk


def test_bare_pending_apply_is_still_being_created() -> None:
    make_apply(A.PENDING, tasks=0, operation=False)
    assert claims.find_next_apply(OWNER) is None


def test_pending_with_only_an_operation_is_queued_on_the_current_line(line: Line) -> None:
    # #635: a VSchema-only apply has an operation row and no tasks; b2349ea needs tasks.
    apply = make_apply(A.PENDING, tasks=0, operation=True)
    claim = claims.find_next_apply_claim(OWNER)
    if not line.queued_by_operation_row:
        assert claim is None
        return
    assert claim is not None and (claim.apply.pk, claim.clause) == (apply.pk, Clause.QUEUED)


def test_pending_with_a_start_request_is_claimed_without_tasks() -> None:
    apply = make_apply(A.PENDING, tasks=0, operation=False, start_request="pending")
    claim = claims.find_next_apply_claim(OWNER)
    assert claim is not None and (claim.apply.pk, claim.clause) == (apply.pk, Clause.PENDING_START)
    assert reload(apply).state == A.RUNNING


def test_old_retryable_is_not_claimed() -> None:
    apply = make_apply(A.FAILED_RETRYABLE)
    set_heartbeat_age(apply, 2 * 86_400)
    assert claims.find_next_apply(OWNER) is None


def test_retryable_out_of_budget_is_not_claimed() -> None:
    make_apply(A.FAILED_RETRYABLE, attempt=10)
    assert claims.find_next_apply(OWNER) is None


def test_retry_claim_counts_the_attempt_and_clears_the_error() -> None:
    apply = make_apply(A.FAILED_RETRYABLE, attempt=3, error_message="boom")
    claimed = claims.find_next_apply(OWNER)
    row = reload(apply)
    assert claimed is not None
    assert (row.state, row.attempt, row.error_message, row.completed_at) == (
        A.RUNNING,
        4,
        "",
        None,
    )


def test_stopped_with_start_request_is_claimed_under_the_target_lock(line: Line) -> None:
    apply = make_apply(A.STOPPED, start_request="pending")
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(completed_at=SecondsAgo(5))
    claim = claims.find_next_apply_claim(OWNER)
    assert claim is not None and claim.clause == Clause.STOPPED_START
    row = reload(apply)
    # The state the line calls a restarted stopped apply: running at b2349ea, resuming (#424).
    assert row.state == line.stopped_apply_claim_state
    assert row.completed_at is None


def test_stopped_start_is_refused_when_another_apply_is_active_on_the_target() -> None:
    apply = make_apply(A.STOPPED, start_request="pending")
    ApplyFactory(
        state=A.RUNNING,
        database_name=apply.database_name,
        database_type=apply.database_type,
        environment=apply.environment,
        deployment=apply.deployment,
    )

    assert claims.claim_apply_by_id(apply.pk, OWNER) is None

    request = ApplyControlRequest.objects.using("schemabot").get(apply=apply)
    assert request.status == "failed"
    assert request.error_message == (
        "start refused: another active apply exists for "
        f"{apply.database_name}/{apply.database_type}/{apply.environment}"
    )
    assert reload(apply).state == A.STOPPED


def test_stopped_with_a_failed_start_request_is_skipped() -> None:
    make_apply(A.STOPPED, start_request="failed")
    assert claims.find_next_apply(OWNER) is None


def test_fresh_running_with_a_stop_request_is_not_claimed() -> None:
    apply = make_apply(A.RUNNING, age=FRESH)
    ApplyControlRequest.objects.using("schemabot").create(
        apply=apply, operation="stop", status="pending"
    )
    assert claims.find_next_apply(OWNER) is None


def test_waiting_for_deploy_start_request_newer_than_the_lease_claims_it() -> None:
    apply = make_apply(A.WAITING_FOR_DEPLOY, age=FRESH, start_request="pending")
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        lease_acquired_at=SecondsAgo(30), updated_at=SecondsAgo(0)
    )

    claim = claims.find_next_apply_claim(OWNER)

    assert claim is not None and claim.clause == Clause.DEFERRED_DEPLOY_START
    assert reload(apply).state == A.WAITING_FOR_DEPLOY
    assert claims.find_next_apply(OWNER) is None  # the new lease is not older than the request
    set_heartbeat_age(apply, STALE)
    assert claims.find_next_apply(OWNER) is not None  # stale again: reclaimable


def test_engine_filter_leaves_other_engines_alone() -> None:
    spirit = make_apply(A.RUNNING, engine="spirit", database_type="mysql")
    planetscale = make_apply(A.PREPARING_BRANCH, engine="planetscale")

    claimed = claims.find_next_apply(OWNER, engines=["planetscale"])

    assert claimed is not None and claimed.pk == planetscale.pk
    assert claims.find_next_apply(OWNER, engines=["planetscale"]) is None
    assert reload(spirit).lease_token == ""


def test_candidates_beyond_the_first_page_are_reached() -> None:
    # More claimable rows than one candidate page, all locked-out but the last: the claimer
    # must page on (keyset) instead of giving up.
    applies = [make_apply(A.RUNNING) for _ in range(claims.PAGE_SIZE + 3)]
    for apply in applies[:-1]:
        set_heartbeat_age(apply, FRESH)
    claimed = claims.find_next_apply(OWNER)
    assert claimed is not None and claimed.pk == applies[-1].pk


def test_deployment_order_gate_waits_for_the_earlier_sibling() -> None:
    apply = ApplyFactory(state=A.RUNNING)
    first = ApplyOperationFactory.create(apply=apply, deployment="east", state=A.RUNNING)
    second = ApplyOperationFactory.create(apply=apply, deployment="west", state=A.PENDING)
    TaskFactory(apply=apply, apply_operation=second)

    assert operation_claims.find_next_apply_operation(OWNER) is None  # east still running

    ApplyOperation.objects.using("schemabot").filter(pk=first.pk).update(state=A.COMPLETED)
    claimed = operation_claims.find_next_apply_operation(OWNER)
    assert claimed is not None and claimed.pk == second.pk


def test_failed_sibling_does_not_block_on_failure_continue() -> None:
    apply = ApplyFactory(state=A.RUNNING)
    ApplyOperationFactory(apply=apply, deployment="east", state=A.FAILED)
    second = ApplyOperationFactory.create(
        apply=apply, deployment="west", state=A.PENDING, on_failure="continue"
    )
    claimed = operation_claims.find_next_apply_operation(OWNER)
    assert claimed is not None and claimed.pk == second.pk


# --- leases -------------------------------------------------------------------------------------


def test_heartbeat_and_guarded_writes_need_the_current_token() -> None:
    make_apply(A.RUNNING)
    first = claims.find_next_apply_claim(OWNER)
    assert first is not None
    mine = (first.lease.row_id, first.lease.token)
    assert heartbeat_many("applies", [mine]) == set()
    check_lease(first.lease)
    set_heartbeat_age(first.apply, STALE)

    second = claims.find_next_apply_claim("other-host/2/driver-1")  # the first driver died

    assert second is not None and second.lease.token != first.lease.token
    assert heartbeat_many("applies", [mine]) == {mine}  # lost: nothing refreshed
    with pytest.raises(LeaseLost):
        guarded_update(first.lease, {"state": A.FAILED, "error_message": "stale driver"})
    row = reload(first.apply)
    assert (row.state, row.error_message, row.lease_token) == (
        A.RUNNING,
        None,
        second.lease.token,
    )


def test_guarded_update_can_pin_the_heartbeat() -> None:
    make_apply(A.RUNNING)
    claim = claims.find_next_apply_claim(OWNER)
    assert claim is not None
    set_heartbeat_age(claim.apply, 30)
    before = reload(claim.apply).updated_at

    guarded_update(claim.lease, {"error_message": "note"}, heartbeat=False)

    after = reload(claim.apply)
    assert (after.error_message, after.updated_at) == ("note", before)
