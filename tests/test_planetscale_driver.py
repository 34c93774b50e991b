"""The PlanetScale driver's decisions, one step at a time, against a scripted API.

What must happen before (or instead of) any engine call: a pending stop ends the apply
cancelled without creating anything; a revert-phase apply without resume state is handed back;
lost resume state is rebuilt by name or by a re-plan against production; a deploy request that
ended in error is replaced from the same branch. Every request the driver makes is recorded,
so "nothing was created" is checked call by call.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from applies.claims import claim_apply
from applies.demo.fresh import (
    KEYSPACE,
    ORDER_NOTES,
    ORDERS_PLAN,
    ORDERS_WITH_NOTE,
    VSCHEMA_AFTER,
    FreshPlan,
    create_fresh_apply,
)
from applies.engines.base import Next, StepSuperseded, Then
from applies.engines.planetscale.transport import Transport
from applies.leases import Lease
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Task
from applies.recovery.planetscale import PlanetScaleDriver
from applies.states import ApplyState
from tests.planetscale_fakes import (
    FakeAPI,
    Recorder,
    branch_body,
    config,
    deploy_request_body,
    schema_body,
)

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])
A = ApplyState
DB = "schemabot"


def claimed(plan: FreshPlan = ORDERS_PLAN, **changes: Any) -> tuple[Apply, Lease]:
    apply = create_fresh_apply("planetscale", plan)
    claim = claim_apply(apply.pk, "test/1/driver", engines=["planetscale"])
    assert claim is not None
    if changes:
        Apply.objects.using(DB).filter(pk=apply.pk).update(**changes)
    return Apply.objects.using(DB).get(pk=apply.pk), claim.lease


def with_metadata(apply: Apply, metadata: dict[str, Any] | None) -> None:
    ApplyOperation.objects.using(DB).filter(apply=apply).update(
        engine_resume_metadata=metadata, engine_resume_context=apply.apply_identifier
    )


def step(apply: Apply, lease: Lease, api: FakeAPI, *, mine: bool = True) -> Next:
    """One step; ``mine=False``: the step no longer holds its drive (taken over meanwhile)."""
    transport = Transport(config(), sleep=Recorder(), http=httpx.MockTransport(api.handle))
    driver = PlanetScaleDriver(apply.pk, config(), transport=transport)
    try:
        return driver.step(lease, still_mine=lambda: mine)
    finally:
        driver.close()


def state(apply: Apply) -> str:
    return Apply.objects.using(DB).get(pk=apply.pk).state


def stop_request(apply: Apply) -> ApplyControlRequest:
    return ApplyControlRequest.objects.using(DB).create(
        apply_id=apply.pk, operation="stop", status="pending", requested_by="alice", metadata={}
    )


def test_a_stop_pending_at_claim_cancels_without_any_engine_call() -> None:
    apply, lease = claimed()
    request = stop_request(apply)
    api = FakeAPI()

    outcome = step(apply, lease, api)

    assert (outcome.then, outcome.state) == (Then.FINISHED, A.CANCELLED)
    assert api.requests == []
    assert state(apply) == A.CANCELLED
    request.refresh_from_db(using=DB)
    assert request.status == "completed" and request.completed_at is not None
    assert set(Task.objects.using(DB).filter(apply=apply).values_list("state", flat=True)) == {
        "cancelled"
    }
    log = ApplyLog.objects.using(DB).get(apply=apply, event_type="stop_requested")
    assert log.message.startswith("Cancel requested: 2 tasks cancelled, 0 skipped")
    assert (log.old_state, log.new_state, log.source) == (A.RUNNING, A.CANCELLED, "ternadmin")


def test_a_stop_pending_with_a_deploy_request_cancels_it_and_creates_nothing() -> None:
    apply, lease = claimed(state=A.VALIDATING_DEPLOY_REQUEST)
    branch = "schemabot-x"
    with_metadata(apply, {"branch_name": branch, "deploy_request_id": 3})
    stop_request(apply)
    api = FakeAPI()
    api.route("GET", "deploy-requests", {"data": [deploy_request_body(3, "ready", branch=branch)]})
    api.route("GET", "deploy-requests/3", deploy_request_body(3, "ready", branch=branch))
    api.route("POST", "deploy-requests/3/cancel", deploy_request_body(3, "in_progress_cancel"))

    outcome = step(apply, lease, api)

    assert outcome.state == A.CANCELLED
    assert len(api.calls("POST", "deploy-requests/3/cancel")) == 1
    assert [r.method for r in api.requests].count("POST") == 1  # the cancel, nothing else


def test_a_cancel_that_claimed_a_stopped_apply_cancels_its_deploy_request() -> None:
    # The stopped+cancel claim of the current line (upstream claimStoppedApplyForCancel)
    # hands the drive a stopped apply with a pending cancel: the first step delivers it.
    apply, lease = claimed()
    Apply.objects.using(DB).filter(pk=apply.pk).update(state=A.STOPPED)
    branch = "schemabot-x"
    with_metadata(apply, {"branch_name": branch, "deploy_request_id": 3})
    cancel = ApplyControlRequest.objects.using(DB).create(
        apply_id=apply.pk, operation="cancel", status="pending", requested_by="bob", metadata={}
    )
    api = FakeAPI()
    api.route("GET", "deploy-requests", {"data": [deploy_request_body(3, "ready", branch=branch)]})
    api.route("GET", "deploy-requests/3", deploy_request_body(3, "ready", branch=branch))
    api.route("POST", "deploy-requests/3/cancel", deploy_request_body(3, "in_progress_cancel"))

    outcome = step(apply, lease, api)

    assert (outcome.then, outcome.state) == (Then.FINISHED, A.CANCELLED)
    assert state(apply) == A.CANCELLED
    assert [r.method for r in api.requests].count("POST") == 1  # the cancel, nothing else
    cancel.refresh_from_db(using=DB)
    assert cancel.status == "completed"


def test_a_stop_in_the_revert_window_is_refused_and_the_drive_goes_on() -> None:
    apply, lease = claimed(state=A.REVERT_WINDOW)
    branch = "schemabot-x"
    with_metadata(apply, {"branch_name": branch, "deploy_request_id": 3})
    request = stop_request(apply)
    api = FakeAPI()
    window = deploy_request_body(
        3, "complete_pending_revert", branch=branch, deployed_at="2026-01-01T00:00:00Z"
    )
    api.route("GET", "deploy-requests/3", window)

    outcome = step(apply, lease, api)

    assert outcome.then == Then.POLL and state(apply) == A.REVERT_WINDOW
    request.refresh_from_db(using=DB)
    assert request.status == "failed" and "revert window" in (request.error_message or "")


def test_a_revert_phase_apply_without_resume_state_is_handed_back_untouched() -> None:
    apply, lease = claimed(state=A.REVERT_WINDOW, started_at=None)
    Apply.objects.using(DB).filter(pk=apply.pk).update(started_at=apply.created_at)
    logs = ApplyLog.objects.using(DB).filter(apply=apply).count()
    api = FakeAPI()

    outcome = step(apply, lease, api)

    assert outcome.then == Then.HANDED_BACK and "left for a later claim" in outcome.message
    assert api.requests == [] and state(apply) == A.REVERT_WINDOW
    assert ApplyLog.objects.using(DB).filter(apply=apply).count() == logs


def started(state_: str) -> tuple[Apply, Lease]:
    apply, lease = claimed(state=state_)
    Apply.objects.using(DB).filter(pk=apply.pk).update(started_at=apply.created_at)
    return Apply.objects.using(DB).get(pk=apply.pk), lease


@pytest.mark.parametrize("metadata", [None, {"branch_name": 42}, "not json"])
def test_lost_resume_state_and_production_at_the_desired_schema_completes_creating_nothing(
    metadata: Any,
) -> None:
    apply, lease = started(A.CREATING_DEPLOY_REQUEST)
    with_metadata(apply, metadata)
    api = FakeAPI()
    api.route("GET", "deploy-requests", {"data": []})
    production = schema_body(("orders", ORDERS_WITH_NOTE), ("order_notes", ORDER_NOTES))
    api.route("GET", "branches/main/keyspaces", {"data": [{"name": KEYSPACE}]})
    api.route("GET", "branches/main/schema", production)

    outcome = step(apply, lease, api)

    assert outcome.state == A.COMPLETED and state(apply) == A.COMPLETED
    assert all(request.method == "GET" for request in api.requests)
    assert (
        ApplyLog.objects.using(DB)
        .filter(apply=apply, message__contains="production already has the desired schema")
        .exists()
    )


def test_lost_resume_state_with_production_behind_starts_over_from_one_branch() -> None:
    apply, lease = started(A.VALIDATING_BRANCH)
    api = FakeAPI()
    api.route("GET", "deploy-requests", {"data": []})
    before = ORDERS_PLAN.before[KEYSPACE]["orders"]
    api.route("GET", "branches/main/keyspaces", {"data": [{"name": KEYSPACE}]})
    api.route("GET", "branches/main/schema", schema_body(("orders", before)))

    outcome = step(apply, lease, api)

    assert outcome.then == Then.CONTINUE and state(apply) == A.PREPARING_BRANCH
    metadata = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata
    assert (
        metadata["branch_name"].startswith("schemabot-shop-") and not metadata["deploy_request_id"]
    )
    assert all(request.method == "GET" for request in api.requests)


def test_lost_resume_state_finds_the_branchs_open_deploy_request() -> None:
    apply, lease = started(A.VALIDATING_DEPLOY_REQUEST)
    branch = Apply.objects.using(DB).get(pk=apply.pk)
    api = FakeAPI()
    name = f"schemabot-{apply.database_name.replace('_', '-')}-{apply.plan.plan_identifier[-8:]}"
    api.route("GET", "deploy-requests", {"data": [deploy_request_body(8, "pending", branch=name)]})

    outcome = step(branch, lease, api)

    assert outcome.then == Then.CONTINUE
    metadata = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata
    assert (metadata["branch_name"], metadata["deploy_request_id"]) == (name, 8)


def test_a_deploy_request_in_error_is_replaced_from_the_same_branch() -> None:
    apply, lease = started(A.VALIDATING_DEPLOY_REQUEST)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 4})
    body = deploy_request_body(4, "error", branch="schemabot-x")
    body["deployment"]["deploy_check_errors"] = "table orders is locked"
    api = FakeAPI()
    api.route("GET", "deploy-requests/4", body)

    outcome = step(apply, lease, api)

    assert outcome.then == Then.CONTINUE and state(apply) == A.APPLYING_BRANCH_CHANGES
    metadata = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata
    assert metadata["branch_name"] == "schemabot-x" and metadata["deploy_request_id"] == 0
    assert metadata["ternadmin_errored_deploy_requests"] == [4]
    log = ApplyLog.objects.using(DB).get(apply=apply, level="warn")
    assert "#4 ended in error (table orders is locked)" in log.message


def test_a_vschema_only_plan_patches_the_vschema_and_runs_no_ddl() -> None:
    plan = FreshPlan(
        before={KEYSPACE: {}},
        files={KEYSPACE: {"vschema.json": VSCHEMA_AFTER}},
        tasks=(),
    )
    apply, lease = started(A.APPLYING_BRANCH_CHANGES)
    Apply.objects.using(DB).filter(pk=apply.pk).update(
        plan_id=create_fresh_apply("planetscale", plan).plan_id
    )
    Task.objects.using(DB).filter(apply=apply).delete()
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 0})
    api = FakeAPI()
    api.route("GET", "branches/schemabot-x", branch_body("schemabot-x"))
    api.route("GET", "branches/schemabot-x/keyspaces", {"data": [{"name": KEYSPACE}]})
    api.route("GET", "branches/schemabot-x/schema", schema_body())
    api.route("GET", f"branches/schemabot-x/keyspaces/{KEYSPACE}/vschema", {"raw": "{}"})
    api.route("PATCH", f"branches/schemabot-x/keyspaces/{KEYSPACE}/vschema", {"raw": VSCHEMA_AFTER})

    outcome = step(Apply.objects.using(DB).get(pk=apply.pk), lease, api)

    assert outcome.then == Then.CONTINUE and state(apply) == A.VALIDATING_BRANCH
    (patch,) = api.calls("PATCH", f"branches/schemabot-x/keyspaces/{KEYSPACE}/vschema")
    assert json.loads(json.loads(patch.content)["vschema"]) == json.loads(VSCHEMA_AFTER)
    assert api.calls("POST", "branches/schemabot-x/passwords") == []


def test_a_step_on_a_taken_lease_writes_nothing() -> None:
    apply, lease = claimed()
    Apply.objects.using(DB).filter(pk=apply.pk).update(lease_token="someone-else")
    api = FakeAPI()
    outcome = step(apply, lease, api)
    assert outcome.then == Then.LEASE_LOST and api.requests == []
    assert ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata is None


def test_a_first_step_persists_the_branch_name_before_any_engine_call() -> None:
    apply, lease = claimed()
    api = FakeAPI()
    outcome = step(apply, lease, api)
    assert outcome.then == Then.CONTINUE and api.requests == []
    assert state(apply) == A.PREPARING_BRANCH
    metadata = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata
    assert metadata["branch_name"].startswith("schemabot-shop-")
    api.route("GET", f"branches/{metadata['branch_name']}", 404)
    api.route("GET", "branches/main", branch_body("main"))  # the database answers
    api.route("POST", "branches", branch_body(metadata["branch_name"], ready=False))
    assert step(apply, lease, api).then == Then.POLL  # created, not ready yet
    assert len(api.calls("POST", "branches")) == 1


def test_a_keyspace_the_branch_lacks_fails_the_apply_instead_of_looping() -> None:
    apply, lease = started(A.APPLYING_BRANCH_CHANGES)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 0})
    api = FakeAPI()
    api.route("GET", "branches/schemabot-x", branch_body("schemabot-x"))
    api.route("GET", "branches/schemabot-x/keyspaces", {"data": [{"name": "schemabot_x"}]})

    outcome = step(apply, lease, api)

    assert outcome.then == Then.FAILED and state(apply) == A.FAILED
    assert f"has no keyspace {KEYSPACE} that the plan changes" in outcome.message
    assert api.calls("POST", "branches") == []


def test_a_branch_that_never_gets_ready_fails_the_apply_after_the_wait(
    settings: Any,
) -> None:
    apply, lease = claimed()
    api = FakeAPI()
    assert step(apply, lease, api).then == Then.CONTINUE  # branch name persisted
    name = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata["branch_name"]
    api.route("GET", f"branches/{name}", branch_body(name, ready=False))
    assert step(apply, lease, api).then == Then.POLL
    settings.TERNADMIN_ENGINE_WAIT_SECONDS = 60
    five_minutes_ago = Apply.objects.using(DB).get(pk=apply.pk).created_at - timedelta(minutes=5)
    ApplyLog.objects.using(DB).filter(apply=apply, new_state=A.PREPARING_BRANCH).update(
        created_at=five_minutes_ago
    )
    Apply.objects.using(DB).filter(pk=apply.pk).update(lease_acquired_at=five_minutes_ago)

    outcome = step(apply, lease, api)

    assert outcome.then == Then.FAILED and "not ready after 60s" in outcome.message


def test_a_reclaimed_apply_waits_for_its_branch_again_however_long_ago_it_entered_the_state(
    settings: Any,
) -> None:
    # Its driver died in preparing_branch two hours ago; a fresh claim finds the branch still
    # getting ready. The wait starts over with the claim instead of failing the apply at once.
    apply, lease = claimed()
    api = FakeAPI()
    assert step(apply, lease, api).then == Then.CONTINUE  # branch name persisted
    name = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata["branch_name"]
    api.route("GET", f"branches/{name}", branch_body(name, ready=False))
    settings.TERNADMIN_ENGINE_WAIT_SECONDS = 60
    ApplyLog.objects.using(DB).filter(apply=apply, new_state=A.PREPARING_BRANCH).update(
        created_at=Apply.objects.using(DB).get(pk=apply.pk).created_at - timedelta(hours=2)
    )

    outcome = step(apply, lease, api)

    assert outcome.then == Then.POLL
    assert state(apply) == A.PREPARING_BRANCH


@pytest.mark.parametrize("apply_state", [A.RUNNING, A.PREPARING_BRANCH])
def test_an_apply_without_an_operation_row_is_handed_back_before_any_engine_call(
    apply_state: str,
) -> None:
    # Its resume state could not be kept anywhere: driving it would repeat every step for
    # ever (upstream refuses too: its grouped resume needs the operation row).
    apply, lease = claimed(state=apply_state)
    ApplyOperation.objects.using(DB).filter(apply=apply).delete()
    logs = ApplyLog.objects.using(DB).filter(apply=apply).count()
    api = FakeAPI()

    outcome = step(apply, lease, api)

    assert outcome.then == Then.HANDED_BACK and "no apply_operations row" in outcome.message
    assert api.requests == [] and state(apply) == apply_state
    assert ApplyLog.objects.using(DB).filter(apply=apply).count() == logs


@pytest.mark.parametrize("persisted", [False, True])
def test_the_main_branch_is_never_used_as_the_apply_branch(persisted: bool) -> None:
    apply, lease = claimed(options={"branch": "main"})
    if persisted:
        with_metadata(apply, {"branch_name": "main", "deploy_request_id": 0})
    api = FakeAPI()

    outcome = step(apply, lease, api)

    assert outcome.then == Then.FAILED and "cannot reuse the main branch" in outcome.message
    assert api.requests == [] and state(apply) == A.FAILED


@pytest.mark.parametrize(("option", "auto_delete"), [("", True), ("feature-x", False)])
def test_a_branch_the_user_chose_is_not_deleted_with_the_deploy_request(
    option: str, auto_delete: bool
) -> None:
    # Upstream's fresh apply asks PlanetScale to delete only a branch it created itself.
    apply, lease = started(A.CREATING_DEPLOY_REQUEST)
    Apply.objects.using(DB).filter(pk=apply.pk).update(options={"branch": option})
    with_metadata(apply, {"branch_name": option or "schemabot-x", "deploy_request_id": 0})
    name = option or "schemabot-x"
    api = FakeAPI()
    api.route("GET", f"branches/{name}", branch_body(name))
    api.route("GET", "deploy-requests", {"data": []})
    api.route("POST", "deploy-requests", deploy_request_body(5, "pending", branch=name))

    outcome = step(Apply.objects.using(DB).get(pk=apply.pk), lease, api)

    assert outcome.then == Then.CONTINUE
    (create,) = api.calls("POST", "deploy-requests")
    assert api.body(create)["auto_delete_branch"] is auto_delete


def test_a_schema_file_that_cannot_be_tokenised_fails_the_apply_saying_which() -> None:
    # It used to escape as a bare step error: the apply went stale, was reclaimed and failed
    # the same way for ever.
    plan = FreshPlan(
        before={KEYSPACE: {}},
        files={KEYSPACE: {"orders.sql": "CREATE TABLE orders (note varchar(3) DEFAULT 'x)"}},
        tasks=(),
    )
    apply, lease = started(A.APPLYING_BRANCH_CHANGES)
    Apply.objects.using(DB).filter(pk=apply.pk).update(
        plan_id=create_fresh_apply("planetscale", plan).plan_id
    )
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 0})
    api = FakeAPI()
    api.route("GET", "branches/schemabot-x", branch_body("schemabot-x"))

    outcome = step(Apply.objects.using(DB).get(pk=apply.pk), lease, api)

    assert outcome.then == Then.FAILED and state(apply) == A.FAILED
    assert f"schema file {KEYSPACE}/orders.sql: cannot parse" in outcome.message


@pytest.mark.parametrize("dr_state", ["in_progress_cancel", "complete_cancel", "cancelled"])
def test_a_deploy_request_cancelled_elsewhere_ends_the_apply_cancelled(dr_state: str) -> None:
    # A PlanetScale cancel is permanent: cancelling or cancelled, the apply ends the same way.
    apply, lease = started(A.RUNNING)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 3})
    api = FakeAPI()
    api.route("GET", "deploy-requests/3", deploy_request_body(3, dr_state, branch="schemabot-x"))

    outcome = step(apply, lease, api)

    assert (outcome.then, outcome.state) == (Then.FINISHED, A.CANCELLED)
    assert state(apply) == A.CANCELLED


def instant(body: dict[str, Any]) -> dict[str, Any]:
    body["deployment"]["instant_ddl_eligible"] = True
    return body


def test_a_deploy_of_an_instant_eligible_request_records_it_as_instant() -> None:
    apply, lease = started(A.VALIDATING_DEPLOY_REQUEST)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 3})
    api = FakeAPI()
    ready = instant(deploy_request_body(3, "ready", branch="schemabot-x"))
    api.route("GET", "deploy-requests/3", ready)
    deployed = deploy_request_body(3, "queued", branch="schemabot-x", deployed_at="2026-01-01")
    api.route("POST", "deploy-requests/3/deploy", deployed)

    outcome = step(apply, lease, api)

    assert outcome.then == Then.POLL
    (deploy,) = api.calls("POST", "deploy-requests/3/deploy")
    assert api.body(deploy) == {"instant_ddl": True}
    assert ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata["is_instant"]


def test_a_request_that_turns_out_instant_eligible_is_recorded_so_on_the_next_poll() -> None:
    apply, lease = started(A.RUNNING)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 3})
    api = FakeAPI()
    running = deploy_request_body(3, "in_progress", branch="schemabot-x", deployed_at="2026-01-01")
    api.route("GET", "deploy-requests/3", instant(running))

    assert step(apply, lease, api).then == Then.POLL
    assert ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata["is_instant"]


def _ready_to_create_the_branch() -> tuple[Apply, FakeAPI]:
    apply, lease = claimed()
    step(apply, lease, FakeAPI())  # persists the branch name
    metadata = ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata
    api = FakeAPI()
    api.route("GET", f"branches/{metadata['branch_name']}", 404)
    api.route("GET", "branches/main", branch_body("main"))  # the database answers
    api.route("POST", "branches", branch_body(metadata["branch_name"], ready=False))
    return apply, api


def _ready_to_open_the_deploy_request() -> tuple[Apply, FakeAPI]:
    apply, _ = started(A.CREATING_DEPLOY_REQUEST)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 0})
    api = FakeAPI()
    api.route("GET", "branches/schemabot-x", branch_body("schemabot-x"))
    api.route("GET", "deploy-requests", {"data": []})
    api.route("POST", "deploy-requests", deploy_request_body(5, "pending", branch="schemabot-x"))
    return apply, api


def _ready_to_deploy() -> tuple[Apply, FakeAPI]:
    apply, _ = started(A.VALIDATING_DEPLOY_REQUEST)
    with_metadata(apply, {"branch_name": "schemabot-x", "deploy_request_id": 4})
    api = FakeAPI()
    api.route("GET", "deploy-requests/4", deploy_request_body(4, "ready", branch="schemabot-x"))
    api.route("POST", "deploy-requests/4/deploy", deploy_request_body(4, "queued"))
    return apply, api


@pytest.mark.parametrize(
    "ready", [_ready_to_create_the_branch, _ready_to_open_the_deploy_request, _ready_to_deploy]
)
def test_a_step_that_no_longer_holds_its_drive_creates_nothing(ready: Any) -> None:
    apply, api = ready()
    lease = Lease("applies", apply.pk, Apply.objects.using(DB).get(pk=apply.pk).lease_token, "x")
    before = state(apply)

    with pytest.raises(StepSuperseded, match="no longer holds its drive"):
        step(apply, lease, api, mine=False)

    assert all(request.method == "GET" for request in api.requests)
    assert state(apply) == before
    # The same step still holding its drive does issue it.
    step(apply, lease, api)
    assert [r.method for r in api.requests].count("POST") == 1
