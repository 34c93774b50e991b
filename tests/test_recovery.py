"""Recovery with real processes and real DDL: crash a driver anywhere, reclaim, finish once.

Every drive here is ``manage.py recover`` in its own process, talking HTTP to the LocalScale
emulator (``manage.py localscale serve``, another process), whose branches are real MariaDB
databases reached with real, expiring branch passwords. The emulator counts every mutating
call per apply, so the tests can prove nothing was done twice; production's schema is read
back through the public API and compared table by table with the plan's schema files.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from applies.demo.fresh import (
    KEYSPACE,
    ORDERS,
    ORDERS_PLAN,
    ORDERS_WITH_NOTE,
    VSCHEMA_AFTER,
    FreshPlan,
    FreshTask,
)
from applies.engines.planetscale.branch_changes import branch_diff
from applies.engines.planetscale.client import PlanetScaleClient
from applies.engines.planetscale.schema_files import desired_schema
from applies.engines.planetscale.transport import Transport
from applies.engines.planetscale.types import MAIN_BRANCH
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation
from applies.states import ApplyState
from localscale.testing import LocalScaleAdmin, fast_config
from tests.helpers import REPO_ROOT
from tests.live_processes import engine_env, fresh_planetscale_apply, serve_emulator

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

STALE_AFTER = 2
ORGANIZATION = "ternadmin-demo"  # PLANETSCALE_ORGANIZATION in demo mode
CRASH_POINTS = [
    f"{step}:{when}"
    for step in (
        "persist_resume_state",
        "create_branch",
        "apply_branch_changes",
        "branch_statement",  # :after is between the two DDL statements
        "validate_branch",
        "create_deploy_request",
        "validate_deploy_request",
        "deploy",
    )
    for when in ("before", "after")
]


def drive_env(port: int, **extra: str) -> dict[str, str]:
    return engine_env(
        port,
        TERNADMIN_STALE_AFTER_SECONDS=str(STALE_AFTER),
        PLANETSCALE_PASSWORD_TTL_SECONDS="2",
        **extra,
    )


@pytest.fixture
def emulator() -> Iterator[int]:
    with serve_emulator() as port:
        yield port


def admin(port: int) -> LocalScaleAdmin:
    return LocalScaleAdmin(f"http://127.0.0.1:{port}")


def fresh(port: int, plan: FreshPlan = ORDERS_PLAN) -> Apply:
    return fresh_planetscale_apply(port, plan)


def recover(apply_id: int, port: int, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "recover", str(apply_id)],
        cwd=REPO_ROOT,
        env=drive_env(port, **extra),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def wait_until_stale() -> None:
    time.sleep(STALE_AFTER + 1.2)  # whole-second timestamps: one more second to be sure


def stats_of(port: int, apply: Apply) -> dict[str, int]:
    return admin(port).stats().get(apply.apply_identifier, {})


def row(apply: Apply) -> Apply:
    return Apply.objects.using("schemabot").get(pk=apply.pk)


def production_lacks(port: int, apply: Apply) -> str:
    """What production's schema still lacks of the plan's schema files ("nothing" when none)."""
    desired = desired_schema(row(apply).plan.schema_files)
    transport = Transport(fast_config(f"http://127.0.0.1:{port}", organization=ORGANIZATION))
    try:
        client = PlanetScaleClient(transport, apply.database_name, "test-check")
        return branch_diff(client, MAIN_BRANCH, desired).summary()
    finally:
        transport.close()


def assert_done_once(port: int, apply: Apply, *, deploys: int = 1) -> None:
    assert row(apply).state == ApplyState.COMPLETED
    assert production_lacks(port, apply) == "nothing"
    stats = stats_of(port, apply)
    assert stats["branches_created"] == 1
    assert stats["deploy_requests_created"] == 1
    assert stats["deploys"] <= deploys
    assert stats["live_passwords"] == 0


def test_an_uninterrupted_drive_completes_with_real_ddl(emulator: int) -> None:
    apply = fresh(emulator)
    assert production_lacks(emulator, apply) == "shop: order_notes, orders"

    done = recover(apply.pk, emulator)

    assert done.returncode == 0, done.stderr
    assert_done_once(emulator, apply)
    assert stats_of(emulator, apply)["deploys"] == 1


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_driver_killed_at_any_step_is_resumed_without_duplicate_work(
    emulator: int, crash_at: str
) -> None:
    apply = fresh(emulator)

    crashed = recover(apply.pk, emulator, TERNADMIN_CRASH_AT=crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    interrupted = row(apply)
    assert interrupted.state not in (ApplyState.COMPLETED, ApplyState.FAILED)
    refused = recover(apply.pk, emulator)  # fresh heartbeat: not claimable yet
    assert refused.returncode != 0 and "not claimable now" in refused.stderr
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert_done_once(emulator, apply)
    if interrupted.started_at is not None:
        message = f"Recovering apply (heartbeat expired, was in {interrupted.state} state)"
        assert ApplyLog.objects.using("schemabot").filter(apply=apply, message=message).exists()


def test_a_vschema_only_apply_changes_only_the_vschema(emulator: int) -> None:
    plan = FreshPlan(
        before={KEYSPACE: {"orders": ORDERS}},
        files={KEYSPACE: {"orders.sql": ORDERS, "vschema.json": VSCHEMA_AFTER}},
        tasks=(FreshTask(KEYSPACE, "", "vschema_update", None),),
    )
    apply = fresh(emulator, plan)
    assert production_lacks(emulator, apply) == "shop: no tables and its VSchema"

    done = recover(apply.pk, emulator)

    assert done.returncode == 0, done.stderr
    assert_done_once(emulator, apply)


def test_a_two_keyspace_apply_changes_both(emulator: int) -> None:
    audit = "CREATE TABLE audit_log (id bigint NOT NULL PRIMARY KEY, what text)"
    plan = FreshPlan(
        before={KEYSPACE: {"orders": ORDERS}, "audit": {}},
        files={
            KEYSPACE: {"orders.sql": ORDERS_WITH_NOTE},
            "audit": {"audit_log.sql": audit},
        },
        tasks=(
            ORDERS_PLAN.tasks[0],
            FreshTask("audit", "audit_log", "create", audit),
        ),
    )
    apply = fresh(emulator, plan)

    done = recover(apply.pk, emulator)

    assert done.returncode == 0, done.stderr
    assert_done_once(emulator, apply)


def test_a_deploy_request_that_errors_once_is_replaced_from_the_same_branch(
    emulator: int,
) -> None:
    apply = fresh(emulator)
    admin(emulator).add_fault(
        method="POST", path="/deploy-requests$", effect="deploy_request_error", count=1
    )

    done = recover(apply.pk, emulator)

    assert done.returncode == 0, done.stderr
    assert row(apply).state == ApplyState.COMPLETED
    assert production_lacks(emulator, apply) == "nothing"
    stats = stats_of(emulator, apply)
    assert (stats["branches_created"], stats["deploy_requests_created"], stats["deploys"]) == (
        1,
        2,
        1,
    )
    replaced = ApplyLog.objects.using("schemabot").filter(
        apply=apply, level="warn", message__contains="ended in error"
    )
    assert replaced.count() == 1


def test_a_stop_pending_at_claim_creates_nothing(emulator: int) -> None:
    apply = fresh(emulator)
    request = ApplyControlRequest.objects.using("schemabot").create(
        apply_id=apply.pk, operation="stop", status="pending", requested_by="alice", metadata={}
    )

    done = recover(apply.pk, emulator)

    assert done.returncode == 0, done.stderr
    assert row(apply).state == ApplyState.CANCELLED
    request.refresh_from_db()
    assert request.status == "completed"
    stats = stats_of(emulator, apply)
    assert stats.get("calls", 0) == 0  # not one engine call
    assert production_lacks(emulator, apply) == "shop: order_notes, orders"


def test_resume_state_wiped_after_the_deploy_completed_completes_without_a_new_branch(
    emulator: int,
) -> None:
    apply = fresh(emulator)
    assert recover(apply.pk, emulator).returncode == 0
    # The apply is sent back as if its driver died at the very end, with no resume state.
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        state=ApplyState.RUNNING, completed_at=None
    )
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_metadata=None
    )
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert_done_once(emulator, apply)
    assert (
        ApplyLog.objects.using("schemabot")
        .filter(apply=apply, message__contains="production already has the desired schema")
        .exists()
    )


@pytest.mark.parametrize("metadata", [None, {"branch_name": 42}, "not json"])
def test_lost_resume_state_with_nothing_found_starts_over_with_one_branch(
    emulator: int, metadata: Any
) -> None:
    apply = fresh(emulator)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        state=ApplyState.CREATING_DEPLOY_REQUEST
    )
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        started_at=row(apply).created_at, updated_at=row(apply).created_at
    )
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_metadata=metadata
    )
    wait_until_stale()

    result = recover(apply.pk, emulator)

    assert result.returncode == 0, result.stderr
    assert_done_once(emulator, apply)


def test_missing_resume_state_is_found_by_the_deterministic_branch_name(emulator: int) -> None:
    apply = fresh(emulator)
    crashed = recover(apply.pk, emulator, TERNADMIN_CRASH_AT="create_deploy_request:after")
    assert crashed.returncode == -signal.SIGKILL
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_metadata=None
    )
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert_done_once(emulator, apply)


def deferred_drive(apply: Apply, port: int) -> subprocess.Popen[str]:
    """A `recover` process driving ``apply`` with a deferred deploy, once it waits for it."""
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(options={"defer_deploy": True})
    driver = subprocess.Popen(
        [sys.executable, "manage.py", "recover", str(apply.pk)],
        cwd=REPO_ROOT,
        env=drive_env(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 90
    while row(apply).state != ApplyState.WAITING_FOR_DEPLOY and time.time() < deadline:
        time.sleep(0.2)
    assert row(apply).state == ApplyState.WAITING_FOR_DEPLOY
    return driver


def test_a_driver_whose_lease_is_taken_stops_within_a_heartbeat(emulator: int) -> None:
    apply = fresh(emulator)
    driver = deferred_drive(apply, emulator)

    # Another claimer takes the apply (rotates the token), as after a long stall.
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        lease_token="taken-by-someone-else", lease_owner="other"
    )
    taken_at = time.time()
    logs_before = ApplyLog.objects.using("schemabot").filter(apply=apply).count()
    operation_before = ApplyOperation.objects.using("schemabot").get(apply=apply).updated_at

    _, stderr = driver.communicate(timeout=30)

    assert time.time() - taken_at < 1 + 2  # one heartbeat (1 s) plus process exit
    assert driver.returncode != 0 and "lease_lost" in stderr
    assert ApplyLog.objects.using("schemabot").filter(apply=apply).count() == logs_before
    after = ApplyOperation.objects.using("schemabot").get(apply=apply)
    assert after.updated_at == operation_before
    assert row(apply).lease_token == "taken-by-someone-else"


@pytest.mark.parametrize(
    ("operation", "end_state", "deploys"),
    [("start", ApplyState.COMPLETED, 1), ("stop", ApplyState.CANCELLED, 0)],
)
def test_a_deferred_deploy_waits_for_a_start_or_stop_request(
    emulator: int, operation: str, end_state: str, deploys: int
) -> None:
    apply = fresh(emulator)
    driver = deferred_drive(apply, emulator)

    request = ApplyControlRequest.objects.using("schemabot").create(
        apply_id=apply.pk, operation=operation, status="pending", requested_by="alice"
    )
    stdout, stderr = driver.communicate(timeout=90)

    assert driver.returncode == 0, stderr
    assert row(apply).state == end_state
    request.refresh_from_db()
    assert request.status == "completed" and request.completed_at is not None
    assert stats_of(emulator, apply).get("deploys", 0) == deploys
    lacks = "nothing" if end_state == ApplyState.COMPLETED else "shop: order_notes, orders"
    assert production_lacks(emulator, apply) == lacks


def test_a_deploy_request_number_of_another_branch_is_never_followed(emulator: int) -> None:
    apply = fresh(emulator)
    neighbour = "someone-elses-branch"
    transport = Transport(fast_config(f"http://127.0.0.1:{emulator}", organization=ORGANIZATION))
    client = PlanetScaleClient(transport, apply.database_name, "apply-neighbour")
    client.create_branch(neighbour)
    deadline = time.time() + 30
    while not client.get_branch(neighbour).ready and time.time() < deadline:
        time.sleep(0.1)
    theirs = client.create_deploy_request(neighbour, auto_cutover=True, auto_delete_branch=True)
    transport.close()
    # Resume state names the neighbour's request number (a bad edit, a restored backup).
    crashed = recover(apply.pk, emulator, TERNADMIN_CRASH_AT="create_deploy_request:before")
    assert crashed.returncode == -signal.SIGKILL
    metadata = ApplyOperation.objects.using("schemabot").get(apply=apply).engine_resume_metadata
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_metadata=json.dumps({**metadata, "deploy_request_id": theirs.number})
    )
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert_done_once(emulator, apply)
    assert admin(emulator).stats()["apply-neighbour"].get("deploys", 0) == 0
    metadata = ApplyOperation.objects.using("schemabot").get(apply=apply).engine_resume_metadata
    assert metadata["deploy_request_id"] != theirs.number
