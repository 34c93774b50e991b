"""ternadmin's own access to PlanetScale failing never ends an apply nor loses what it knows.

A token PlanetScale refuses (401/403), or an organization or database it does not show (404 on
everything, the main branch included), is ternadmin's misconfiguration: the step is handed back
(the drive retries it and, in the end, leaves the apply to be claimed again), nothing persisted
is forgotten and nothing is created. A 404 means "gone" only while the database itself answers.
"""

from __future__ import annotations

import pytest

from applies.engines.base import Then
from applies.engines.planetscale.types import MAIN_BRANCH
from applies.models import Apply, ApplyOperation
from applies.states import ApplyState
from tests.planetscale_fakes import FakeAPI, branch_body
from tests.test_planetscale_driver import DB, claimed, started, state, step, with_metadata

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])
A = ApplyState
BRANCH = "schemabot-x"
KNOWN = {"branch_name": BRANCH, "deploy_request_id": 3}


def metadata(apply: Apply) -> dict[str, object]:
    return ApplyOperation.objects.using(DB).get(apply=apply).engine_resume_metadata


@pytest.mark.parametrize("status", [401, 403, 404])
@pytest.mark.parametrize("apply_state", [A.RUNNING, A.CREATING_DEPLOY_REQUEST])
def test_an_engine_that_refuses_ternadmins_access_hands_every_step_back(
    status: int, apply_state: str
) -> None:
    apply, lease = started(apply_state)
    known = {**KNOWN, "deploy_request_id": 3 if apply_state == A.RUNNING else 0}
    with_metadata(apply, known)
    api = FakeAPI(unrouted=status)

    outcomes = [step(apply, lease, api) for _ in range(4)]

    assert {outcome.then for outcome in outcomes} == {Then.HANDED_BACK}
    assert state(apply) == apply_state
    assert metadata(apply) == known
    assert [r.method for r in api.requests if r.method != "GET"] == []


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_first_dispatch_that_cannot_reach_the_engine_is_handed_back(status: int) -> None:
    apply, lease = claimed()
    api = FakeAPI(unrouted=status)
    assert step(apply, lease, api).then == Then.CONTINUE  # the branch name, no engine call

    outcomes = [step(apply, lease, api) for _ in range(3)]

    assert {outcome.then for outcome in outcomes} == {Then.HANDED_BACK}
    assert state(apply) == A.PREPARING_BRANCH
    assert api.calls("POST", "branches") == []


def test_a_deploy_request_the_engine_no_longer_knows_is_forgotten_while_the_database_answers() -> (
    None
):
    apply, lease = started(A.RUNNING)
    with_metadata(apply, KNOWN)
    api = FakeAPI()
    api.route("GET", f"branches/{MAIN_BRANCH}", branch_body(MAIN_BRANCH))

    outcome = step(apply, lease, api)

    assert outcome.then == Then.CONTINUE and state(apply) == A.CREATING_DEPLOY_REQUEST
    assert metadata(apply)["deploy_request_id"] == 0


def test_a_branch_create_answered_404_is_handed_back_not_failed() -> None:
    apply, lease = started(A.PREPARING_BRANCH)
    with_metadata(apply, {**KNOWN, "deploy_request_id": 0})
    api = FakeAPI()
    api.route("GET", f"branches/{MAIN_BRANCH}", branch_body(MAIN_BRANCH))

    outcome = step(apply, lease, api)

    assert outcome.then == Then.HANDED_BACK and "branches" in outcome.message
    assert state(apply) == A.PREPARING_BRANCH
    assert len(api.calls("POST", "branches")) == 1
