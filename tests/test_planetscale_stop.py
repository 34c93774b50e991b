"""A pending stop against the deploy request's live state: cancelled only when it really is.

PlanetScale refuses to cancel a deploy request that is cutting over or has cut over; such a
stop is refused the way a stop in the revert window is, and the drive goes on to record what
the deploy request did. A cancel PlanetScale rejects is re-read before anything is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from applies.engines.base import Then
from applies.engines.planetscale.types import deterministic_branch_name
from applies.models import Apply, ApplyLog
from applies.states import ApplyState
from tests.planetscale_fakes import FakeAPI, deploy_request_body
from tests.test_planetscale_driver import (
    DB,
    claimed,
    started,
    state,
    step,
    stop_request,
    with_metadata,
)

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])
A = ApplyState
BRANCH = "schemabot-x"


def listed(api: FakeAPI, *bodies: dict[str, object]) -> None:
    api.route("GET", "deploy-requests", {"data": list(bodies)})


@pytest.mark.parametrize(
    ("dr_state", "mirrored"),
    [
        ("in_progress_cutover", A.CUTTING_OVER),
        ("complete_pending_revert", A.REVERT_WINDOW),
        ("in_progress_revert", A.REVERTING),
    ],
)
def test_a_stop_past_the_point_of_no_cancel_is_refused_and_the_drive_goes_on(
    dr_state: str, mirrored: str
) -> None:
    apply, lease = claimed(state=A.RUNNING)
    with_metadata(apply, {"branch_name": BRANCH, "deploy_request_id": 3})
    request = stop_request(apply)
    api = FakeAPI()
    body = deploy_request_body(3, dr_state, branch=BRANCH, deployed_at="2026-01-01T00:00:00Z")
    listed(api, body)
    api.route("GET", "deploy-requests/3", body)
    api.route("POST", "deploy-requests/3/cancel", 409)  # what PlanetScale answers there

    outcome = step(apply, lease, api)

    assert outcome.then == Then.POLL and state(apply) == mirrored
    assert api.calls("POST", "deploy-requests/3/cancel") == []
    request.refresh_from_db(using=DB)
    assert request.status == "failed"
    assert f"deploy request #3 is {dr_state}" in (request.error_message or "")
    assert not ApplyLog.objects.using(DB).filter(apply=apply, new_state=A.CANCELLED).exists()


def test_a_cancel_rejected_because_the_cutover_began_meanwhile_is_not_reported_cancelled() -> None:
    apply, lease = claimed(state=A.WAITING_FOR_CUTOVER)
    with_metadata(apply, {"branch_name": BRANCH, "deploy_request_id": 3})
    request = stop_request(apply)
    api = FakeAPI()
    listed(api, deploy_request_body(3, "pending_cutover", branch=BRANCH))
    api.route("POST", "deploy-requests/3/cancel", 409)
    cutting_over = deploy_request_body(3, "in_progress_cutover", branch=BRANCH)
    api.route("GET", "deploy-requests/3", cutting_over)

    outcome = step(apply, lease, api)

    assert len(api.calls("POST", "deploy-requests/3/cancel")) == 1
    assert outcome.then == Then.POLL and state(apply) == A.CUTTING_OVER
    request.refresh_from_db(using=DB)
    assert request.status == "failed" and "in_progress_cutover" in (request.error_message or "")


def test_a_cancel_rejected_while_the_request_is_still_live_writes_nothing_and_is_retried() -> None:
    apply, lease = claimed(state=A.RUNNING)
    with_metadata(apply, {"branch_name": BRANCH, "deploy_request_id": 3})
    request = stop_request(apply)
    api = FakeAPI()
    running = deploy_request_body(3, "in_progress", branch=BRANCH)
    listed(api, running)
    api.route("POST", "deploy-requests/3/cancel", 409)
    api.route("GET", "deploy-requests/3", running)

    outcome = step(apply, lease, api)

    assert outcome.then == Then.HANDED_BACK and "in_progress" in outcome.message
    assert state(apply) == A.RUNNING
    request.refresh_from_db(using=DB)
    assert request.status == "pending"


def test_a_cancel_rejected_because_it_was_cancelled_meanwhile_ends_the_apply_cancelled() -> None:
    apply, lease = claimed(state=A.RUNNING)
    with_metadata(apply, {"branch_name": BRANCH, "deploy_request_id": 3})
    stop_request(apply)
    api = FakeAPI()
    listed(api, deploy_request_body(3, "in_progress", branch=BRANCH))
    api.route("POST", "deploy-requests/3/cancel", 409)
    api.route("GET", "deploy-requests/3", deploy_request_body(3, "complete_cancel", branch=BRANCH))

    outcome = step(apply, lease, api)

    assert (outcome.then, outcome.state) == (Then.FINISHED, A.CANCELLED)
    assert state(apply) == A.CANCELLED


@pytest.mark.parametrize("metadata", [None, "not json"])
def test_a_stop_without_resume_state_cancels_the_deploy_request_found_by_branch_name(
    metadata: Any,
) -> None:
    apply, lease = started(A.VALIDATING_DEPLOY_REQUEST)
    with_metadata(apply, metadata)
    stop_request(apply)
    name = deterministic_branch_name(apply.database_name, apply.plan.plan_identifier)
    api = FakeAPI()
    listed(api, deploy_request_body(8, "ready", branch=name))
    api.route("POST", "deploy-requests/8/cancel", deploy_request_body(8, "in_progress_cancel"))

    outcome = step(apply, lease, api)

    assert (outcome.then, outcome.state) == (Then.FINISHED, A.CANCELLED)
    (listing,) = api.calls("GET", "deploy-requests")
    assert listing.url.params["branch"] == name
    assert len(api.calls("POST", "deploy-requests/8/cancel")) == 1
    log = ApplyLog.objects.using(DB).get(apply=apply, new_state=A.CANCELLED)
    assert log.message.endswith("(deploy request cancelled) (by alice)")


def test_a_stop_with_only_a_branch_says_no_deploy_request_was_open() -> None:
    apply, lease = started(A.APPLYING_BRANCH_CHANGES)
    with_metadata(apply, {"branch_name": BRANCH, "deploy_request_id": 0})
    stop_request(apply)
    api = FakeAPI()
    listed(api)

    outcome = step(apply, lease, api)

    assert outcome.state == A.CANCELLED
    assert [r.method for r in api.requests] == ["GET"]
    log = ApplyLog.objects.using(DB).get(apply=apply, new_state=A.CANCELLED)
    assert "(no deploy request was open)" in log.message


def test_a_stop_is_honoured_before_a_missing_plan_fails_the_apply() -> None:
    apply, lease = started(A.RUNNING)
    Apply.objects.using(DB).filter(pk=apply.pk).update(plan_id=10**9)
    with_metadata(apply, {"branch_name": BRANCH, "deploy_request_id": 3})
    stop_request(apply)
    api = FakeAPI()
    listed(api, deploy_request_body(3, "in_progress", branch=BRANCH))
    api.route("POST", "deploy-requests/3/cancel", deploy_request_body(3, "in_progress_cancel"))

    outcome = step(apply, lease, api)

    assert (outcome.then, outcome.state) == (Then.FINISHED, A.CANCELLED)
    assert len(api.calls("POST", "deploy-requests/3/cancel")) == 1


def test_a_stop_that_cannot_name_the_branch_is_refused_and_the_missing_plan_fails_the_apply() -> (
    None
):
    apply, lease = started(A.RUNNING)
    Apply.objects.using(DB).filter(pk=apply.pk).update(plan_id=10**9)
    request = stop_request(apply)
    api = FakeAPI()

    outcome = step(apply, lease, api)

    assert outcome.then == Then.FAILED and outcome.message == "plan not found during recovery"
    assert api.requests == []
    request.refresh_from_db(using=DB)
    assert request.status == "failed" and "names its branch" in (request.error_message or "")
