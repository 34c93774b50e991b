"""LocalScale and the PlanetScale client together, over real HTTP.

The emulator serves from a thread of the test process; ``transaction=True`` lets that thread
see the test database. Its clock runs 1000× fast unless a test freezes it at normal speed and
moves it by hand (``admin.freeze()``, ``admin.advance(seconds)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pytest_django import Settings

from applies.engines.base import (
    BranchTarget,
    DeployRequest,
    DeployRequestState,
    EngineRejected,
    PlanetScaleMetadata,
    deterministic_branch_name,
)
from applies.engines.planetscale import PlanetScaleEngine
from localscale.models import Branch, Call, Fault
from localscale.server import serve_in_thread
from localscale.testing import (
    AUTHORIZATION,
    TEST_ORGANIZATION,
    LocalScaleAdmin,
    fast_config,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])

DR = DeployRequestState
DATABASE = "shop_db"
STATEMENTS = (
    "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY)",
    "ALTER TABLE users ADD COLUMN nickname varchar(64)",
)


@pytest.fixture
def localscale(settings: Settings) -> Iterator[str]:
    settings.LOCALSCALE_TIME_SCALE = 1000.0
    with serve_in_thread() as url:
        yield url


@pytest.fixture
def admin(localscale: str) -> LocalScaleAdmin:
    return LocalScaleAdmin(localscale)


@pytest.fixture
def engine(localscale: str) -> Iterator[PlanetScaleEngine]:
    with PlanetScaleEngine(fast_config(localscale)) as client:
        yield client


def make_target(
    apply: str = "apply-1", statements: tuple[str, ...] = STATEMENTS, **options: Any
) -> BranchTarget:
    branch = deterministic_branch_name(DATABASE, f"plan-{apply}-0000")
    return BranchTarget(DATABASE, branch + apply[-1], apply, statements, **options)


def api(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A raw call to the emulator's API for ``DATABASE``, as another client would make it."""
    base = f"{url}/v1/organizations/{TEST_ORGANIZATION}/databases/{DATABASE}/"
    headers = {**AUTHORIZATION, **kwargs.pop("headers", {})}
    return httpx.request(method, base + path, headers=headers, timeout=10, **kwargs)


def wait_until(
    engine: PlanetScaleEngine,
    target: BranchTarget,
    number: int,
    done: Callable[[DeployRequest], bool],
    timeout: float = 10,
) -> DeployRequest:
    deadline = time.monotonic() + timeout
    while True:
        dr = engine.get_deploy_request(target, number)
        if done(dr) or time.monotonic() > deadline:
            return dr
        time.sleep(0.02)


def prepare(engine: PlanetScaleEngine, target: BranchTarget) -> DeployRequest:
    """The setup phases of a fresh apply, up to a validated deploy request."""
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    engine.validate_branch(target)
    dr = engine.ensure_deploy_request(target, known_number=None)
    return engine.validate_deploy_request(target, dr.number, poll_interval=0.01, timeout=10)


def main_schema() -> list[str]:
    return list(Branch.objects.get(database_name=DATABASE, name="main").statements)


# --- The whole flow ---------------------------------------------------------------------------


def test_happy_path_branch_to_deploy_request_to_deploy_to_complete(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    dr = prepare(engine, target)
    assert dr.state == DR.READY and not dr.deployed
    metadata = PlanetScaleMetadata(target.branch).with_deploy_request(dr)

    deployed = engine.deploy(target, dr.number)
    assert deployed.deployed and deployed.deployed_at
    in_window = wait_until(engine, target, dr.number, lambda d: d.state != DR.SUBMITTING)
    in_window = wait_until(
        engine, target, dr.number, lambda d: d.state == DR.COMPLETE_PENDING_REVERT
    )
    assert in_window.engine_state == "revert_window"
    assert set(STATEMENTS) <= set(main_schema())  # cut over: main has the change

    # 30 minutes of revert window are 1.8 s at 1000×.
    done = wait_until(engine, target, dr.number, lambda d: d.state == DR.COMPLETE)
    assert done.state == DR.COMPLETE and not done.open
    assert metadata.deploy_request_id == dr.number
    # auto_delete_branch: the branch goes once the deploy is complete.
    assert not Branch.objects.filter(name=target.branch).exists()
    counts = admin.stats()["apply-1"]
    assert counts["branches_created"] == counts["deploy_requests_created"] == 1
    assert counts["deploys"] == counts["schema_applied"] == 1


def test_deferred_cutover_waits_then_cuts_over_and_reverts(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target(defer_cutover=True)
    dr = prepare(engine, target)
    assert not dr.auto_cutover
    engine.deploy(target, dr.number)
    waiting = wait_until(engine, target, dr.number, lambda d: d.state == DR.PENDING_CUTOVER)
    assert waiting.engine_state == "waiting_for_cutover"
    assert not set(STATEMENTS) & set(main_schema())

    engine.cutover(target, dr.number)
    engine.cutover(target, dr.number)  # a second driver, or a retry: nothing more happens
    wait_until(engine, target, dr.number, lambda d: d.state == DR.COMPLETE_PENDING_REVERT)
    assert set(STATEMENTS) <= set(main_schema())

    reverting = engine.revert(target, dr.number)
    assert reverting.state in {DR.IN_PROGRESS_REVERT, DR.COMPLETE_REVERT}
    reverted = wait_until(engine, target, dr.number, lambda d: d.state == DR.COMPLETE_REVERT)
    assert reverted.engine_state == "reverted"
    assert not set(STATEMENTS) & set(main_schema())
    counts = admin.stats()["apply-1"]
    assert (counts["apply_deploys"], counts["reverts"]) == (1, 1)


def test_skip_revert_closes_the_window_at_once(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    admin.freeze()  # from here on only the test moves the clock
    dr = engine.ensure_deploy_request(target, None)
    admin.advance(2)
    engine.deploy(target, dr.number)
    admin.advance(4)  # submitting 1 s, then in_progress 3 s
    assert engine.get_deploy_request(target, dr.number).state == DR.COMPLETE_PENDING_REVERT
    assert engine.skip_revert(target, dr.number).state == DR.COMPLETE
    assert engine.skip_revert(target, dr.number).state == DR.COMPLETE
    assert admin.stats()["apply-1"]["skip_reverts"] == 1


# --- Idempotency ------------------------------------------------------------------------------


def test_every_step_twice_creates_nothing_twice(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    for _ in range(2):
        engine.ensure_branch(target)
    assert engine.apply_branch_changes(target) == list(STATEMENTS)
    assert engine.apply_branch_changes(target) == []
    first = engine.ensure_deploy_request(target, None)
    again = engine.ensure_deploy_request(target, None)
    known = engine.ensure_deploy_request(target, first.number)
    assert first.number == again.number == known.number
    engine.validate_deploy_request(target, first.number, poll_interval=0.01, timeout=10)
    engine.deploy(target, first.number)
    engine.deploy(target, first.number)

    counts = admin.stats()["apply-1"]
    assert counts["branches_created"] == 1
    assert counts["schema_applied"] == counts["passwords_created"] == 1
    assert counts["deploy_requests_created"] == 1
    assert counts["deploys"] == 1


def test_an_existing_branch_is_diffed_not_rewritten(
    localscale: str, engine: PlanetScaleEngine
) -> None:
    target = make_target()
    # A driver crashed after creating the branch and running the first statement.
    assert api(localscale, "POST", "branches", json={"name": target.branch}).status_code == 201
    time.sleep(0.01)
    ran = api(
        localscale, "POST", f"branches/{target.branch}/schema", json={"statements": [STATEMENTS[0]]}
    )
    assert ran.status_code == 200

    engine.ensure_branch(target)
    assert engine.apply_branch_changes(target) == [STATEMENTS[1]]
    engine.validate_branch(target)
    branch = Branch.objects.get(name=target.branch)
    assert branch.statements == list(STATEMENTS)
    # Running DDL that already ran is an error, as on MySQL: the client must never do it.
    again = api(
        localscale, "POST", f"branches/{target.branch}/schema", json={"statements": [STATEMENTS[1]]}
    )
    assert again.status_code == 422 and "already applied" in again.json()["message"]


def test_an_open_deploy_request_for_the_branch_is_found_not_duplicated(
    localscale: str, engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    # Created, then the driver died before persisting the number (upstream's window).
    created = api(localscale, "POST", "deploy-requests", json={"branch": target.branch})
    assert created.status_code == 201

    found = engine.ensure_deploy_request(target, known_number=None)
    assert found.number == created.json()["number"]
    assert engine.find_open_deploy_request(target) == found
    assert Call.objects.filter(kind="deploy_request_created", effective=True).count() == 1


def test_a_lost_create_answer_still_leaves_one_deploy_request(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    admin.add_fault(method="POST", path="/deploy-requests$", status=502, after=True)
    dr = engine.ensure_deploy_request(target, None)
    counts = admin.stats()["apply-1"]
    assert counts["deploy_requests_created"] == 1
    assert counts["failed_calls"] >= 1
    assert [d["number"] for d in _deploy_requests(admin.url)] == [dr.number]


def test_a_lost_deploy_answer_still_deploys_once(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    dr = prepare(engine, target)
    admin.add_fault(method="POST", path="/deploy$", status=503, after=True)
    deployed = engine.deploy(target, dr.number)
    assert deployed.deployed
    assert admin.stats()["apply-1"]["deploys"] == 1


def test_a_lost_schema_answer_is_not_run_twice(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    engine.ensure_branch(target)
    admin.add_fault(method="POST", path="/schema$", status=504, after=True)
    # The first attempt ran; the re-read finds nothing missing.
    assert engine.apply_branch_changes(target) == []
    engine.validate_branch(target)
    assert admin.stats()["apply-1"]["schema_applied"] == 1


def _deploy_requests(url: str) -> list[dict[str, Any]]:
    return list(api(url, "GET", "deploy-requests").json()["data"])


# --- The emulator's rules ---------------------------------------------------------------------


def test_a_taken_branch_name_is_a_conflict_and_the_client_reuses_it(
    localscale: str, engine: PlanetScaleEngine
) -> None:
    target = make_target()
    assert api(localscale, "POST", "branches", json={"name": target.branch}).status_code == 201
    taken = api(localscale, "POST", "branches", json={"name": target.branch})
    assert taken.status_code == 409
    assert taken.json() == {"code": "conflict", "message": "Name has already been taken"}
    assert engine.ensure_branch(target).name == target.branch


def test_deploy_is_refused_while_pending_and_when_already_deployed(
    localscale: str, engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    admin.freeze()
    number = engine.ensure_deploy_request(target, None).number
    pending = api(localscale, "POST", f"deploy-requests/{number}/deploy")
    assert pending.status_code == 409 and "validated" in pending.json()["message"]
    assert engine.deploy(target, number).state == DR.PENDING  # the client waits instead

    admin.advance(2)
    assert api(localscale, "POST", f"deploy-requests/{number}/deploy").status_code == 200
    twice = api(localscale, "POST", f"deploy-requests/{number}/deploy")
    assert twice.status_code == 409 and "already been deployed" in twice.json()["message"]


def test_only_one_deploy_in_flight_per_database(
    localscale: str, engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    first, second = make_target("apply-1"), make_target("apply-2", ("CREATE TABLE t2 (id int)",))
    for target in (first, second):
        engine.ensure_branch(target)
        engine.apply_branch_changes(target)
    admin.freeze()
    numbers = [engine.ensure_deploy_request(t, None).number for t in (first, second)]
    admin.advance(2)
    engine.deploy(first, numbers[0])
    busy = api(localscale, "POST", f"deploy-requests/{numbers[1]}/deploy")
    assert busy.status_code == 409 and "Another deploy" in busy.json()["message"]
    admin.advance(5)  # the first is in its revert window now: the database is free
    assert engine.deploy(second, numbers[1]).deployed


def test_a_branch_that_adds_nothing_has_no_changes(engine: PlanetScaleEngine) -> None:
    target = make_target(statements=())
    dr = prepare(engine, target)
    assert dr.state == DR.NO_CHANGES and dr.engine_state == "completed"
    assert engine.deploy(target, dr.number).deployed is False


def test_an_invalid_statement_fails_validation_with_its_lint_error(
    engine: PlanetScaleEngine,
) -> None:
    target = make_target(statements=("ALTER TABLE users INVALID COLUMN",))
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    dr = engine.ensure_deploy_request(target, None)
    with pytest.raises(EngineRejected, match="failed validation: statement 1 is not valid"):
        engine.validate_deploy_request(target, dr.number, poll_interval=0.01, timeout=10)
    assert engine.find_open_deploy_request(target) is None  # errored requests are not open


def test_cancel_closes_an_undeployed_request(engine: PlanetScaleEngine) -> None:
    target = make_target()
    dr = prepare(engine, target)
    cancelled = engine.cancel(target, dr.number)
    assert cancelled.state == DR.COMPLETE_CANCEL and cancelled.engine_state == "stopped"
    assert engine.cancel(target, dr.number).state == DR.COMPLETE_CANCEL
    assert engine.find_open_deploy_request(target) is None


def test_the_clock_moves_deploy_requests_when_they_are_read(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    target = make_target()
    engine.ensure_branch(target)
    engine.apply_branch_changes(target)
    admin.freeze()
    number = engine.ensure_deploy_request(target, None).number
    assert engine.get_deploy_request(target, number).state == DR.PENDING
    admin.advance(1.9)
    assert engine.get_deploy_request(target, number).state == DR.PENDING
    admin.advance(0.2)
    assert engine.get_deploy_request(target, number).state == DR.READY
    engine.deploy(target, number)
    # Several transitions come due at once: each is applied at the time it was due.
    admin.advance(4 + 30 * 60)
    assert engine.get_deploy_request(target, number).state == DR.COMPLETE


def test_a_frozen_clock_moves_only_when_told(admin: LocalScaleAdmin) -> None:
    admin.freeze()
    frozen = admin.clock()
    time.sleep(0.05)
    assert admin.clock() == frozen and frozen["frozen"] and frozen["time_scale"] == 1.0
    admin.advance(60)
    moved = datetime.fromisoformat(admin.clock()["now"])
    assert moved - datetime.fromisoformat(frozen["now"]) == timedelta(seconds=60)
    admin.unfreeze()  # real time passes again, from where the clock stood: no jump
    running = admin.clock()
    assert not running["frozen"]
    assert timedelta(0) <= datetime.fromisoformat(running["now"]) - moved < timedelta(seconds=5)


def test_every_endpoint_wants_authorization(localscale: str) -> None:
    for path in ("health", "admin/stats", f"v1/organizations/o/databases/{DATABASE}/branches"):
        response = httpx.get(f"{localscale}/{path}")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
    bad = httpx.get(f"{localscale}/health", headers={"Authorization": "no-colon"})
    assert bad.status_code == 401
    assert httpx.get(f"{localscale}/health", headers=AUTHORIZATION).json()["status"] == "ok"


def test_what_is_not_emulated_says_so(localscale: str) -> None:
    assert api(localscale, "GET", "branches/main/keyspaces").status_code == 501
    assert api(localscale, "DELETE", "branches/main").status_code == 405
    missing = httpx.get(f"{localscale}/nothing", headers=AUTHORIZATION)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert api(localscale, "GET", "deploy-requests/99").status_code == 404


def test_calls_are_logged_with_the_apply_that_made_them(
    localscale: str, engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    engine.ensure_branch(make_target("apply-7"))
    calls = admin.calls("apply-7")
    assert [(c["method"], c["kind"], c["status"]) for c in calls] == [
        ("GET", "read", 404),
        ("POST", "branch_created", 201),
        *[("GET", "read", 200)] * (len(calls) - 2),
    ]


def test_faults_live_in_the_database_and_reset_forgets_everything(
    engine: PlanetScaleEngine, admin: LocalScaleAdmin
) -> None:
    rule = admin.add_fault(method="get", path="/branches/", status=500, count=2)
    assert Fault.objects.get(pk=rule["id"]).remaining == 2  # so other processes see it
    engine.ensure_branch(make_target())
    assert admin.faults()[0]["remaining"] == 0
    admin.reset()
    assert admin.stats() == {} and admin.faults() == []
    assert not Branch.objects.exists()
