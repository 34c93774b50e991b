"""Recovery with real processes: crash a driver at every step boundary, reclaim, finish once.

Every drive here is ``manage.py recover`` in its own process, talking HTTP to the LocalScale
emulator (``manage.py localscale serve``, another process) and MariaDB. The emulator counts
every mutating call, so the tests can prove nothing was done twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from applies.demo.fresh import create_fresh_apply
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation
from applies.states import ApplyState
from localscale.calls import call_stats
from tests.helpers import REPO_ROOT
from tests.live_processes import engine_env, serve_emulator

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

STALE_AFTER = 2
CRASH_POINTS = [
    f"{step}:{when}"
    for step in (
        "persist_resume_state",
        "create_branch",
        "apply_branch_changes",
        "validate_branch",
        "create_deploy_request",
        "validate_deploy_request",
        "deploy",
    )
    for when in ("before", "after")
]


def drive_env(port: int, **extra: str) -> dict[str, str]:
    return engine_env(port, TERNADMIN_STALE_AFTER_SECONDS=str(STALE_AFTER), **extra)


@pytest.fixture
def emulator() -> Iterator[int]:
    with serve_emulator() as port:
        yield port


def recover(apply_id: int, port: int, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "recover", str(apply_id)],
        cwd=REPO_ROOT,
        env=drive_env(port, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_until_stale() -> None:
    time.sleep(STALE_AFTER + 1.2)  # whole-second timestamps: one more second to be sure


def stats_of(apply: Apply) -> dict[str, int]:
    return call_stats().get(apply.apply_identifier, {})


def row(apply: Apply) -> Apply:
    return Apply.objects.using("schemabot").get(pk=apply.pk)


def test_an_uninterrupted_drive_completes(emulator: int) -> None:
    apply = create_fresh_apply("planetscale")

    done = recover(apply.pk, emulator)

    assert done.returncode == 0, done.stderr
    assert row(apply).state == ApplyState.COMPLETED
    stats = stats_of(apply)
    assert (stats["branches_created"], stats["deploy_requests_created"], stats["deploys"]) == (
        1,
        1,
        1,
    )


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_driver_killed_at_any_step_is_resumed_without_duplicate_work(
    emulator: int, crash_at: str
) -> None:
    apply = create_fresh_apply("planetscale")

    crashed = recover(apply.pk, emulator, TERNADMIN_CRASH_AT=crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    interrupted = row(apply)
    assert interrupted.state not in (ApplyState.COMPLETED, ApplyState.FAILED)
    refused = recover(apply.pk, emulator)  # fresh heartbeat: not claimable yet
    assert refused.returncode != 0 and "not claimable now" in refused.stderr
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert row(apply).state == ApplyState.COMPLETED
    stats = stats_of(apply)
    assert stats["branches_created"] == 1
    assert stats["deploy_requests_created"] == 1
    assert stats["deploys"] == 1
    if interrupted.started_at is not None:
        assert (
            ApplyLog.objects.using("schemabot")
            .filter(
                apply=apply,
                message=f"Recovering apply (heartbeat expired, was in {interrupted.state} state)",
            )
            .exists()
        )


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
    deadline = time.time() + 60
    while row(apply).state != ApplyState.WAITING_FOR_DEPLOY and time.time() < deadline:
        time.sleep(0.2)
    assert row(apply).state == ApplyState.WAITING_FOR_DEPLOY
    return driver


def test_a_driver_whose_lease_is_taken_stops_within_a_heartbeat(emulator: int) -> None:
    apply = create_fresh_apply("planetscale")
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


def started_apply(state: str, metadata: Any) -> Apply:
    apply = create_fresh_apply("planetscale")
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(state=state)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        started_at=row(apply).created_at, updated_at=row(apply).created_at
    )
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        state=state, engine_resume_metadata=metadata
    )
    return apply


@pytest.mark.parametrize("metadata", [None, {"branch_name": 42}, "not json"])
def test_missing_or_corrupt_resume_state_without_a_branch_fails_clearly(
    emulator: int, metadata: Any
) -> None:
    apply = started_apply(ApplyState.CREATING_DEPLOY_REQUEST, metadata)
    wait_until_stale()

    result = recover(apply.pk, emulator)

    assert result.returncode != 0
    failed = row(apply)
    assert failed.state == ApplyState.FAILED
    assert "refusing to start fresh work blindly" in (failed.error_message or "")
    stats = stats_of(apply)
    assert stats.get("branches_created", 0) == 0 and stats.get("deploy_requests_created", 0) == 0


def test_missing_resume_state_is_found_by_the_deterministic_branch_name(emulator: int) -> None:
    apply = create_fresh_apply("planetscale")
    crashed = recover(apply.pk, emulator, TERNADMIN_CRASH_AT="create_deploy_request:after")
    assert crashed.returncode == -signal.SIGKILL
    # The persisted state is lost (e.g. a bad manual edit): only the names are left.
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_metadata=None
    )
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert row(apply).state == ApplyState.COMPLETED
    stats = stats_of(apply)
    assert (stats["branches_created"], stats["deploy_requests_created"], stats["deploys"]) == (
        1,
        1,
        1,
    )


@pytest.mark.parametrize(
    ("operation", "end_state", "deploys"),
    [("start", ApplyState.COMPLETED, 1), ("stop", ApplyState.CANCELLED, 0)],
)
def test_a_deferred_deploy_waits_for_a_start_or_stop_request(
    emulator: int, operation: str, end_state: str, deploys: int
) -> None:
    apply = create_fresh_apply("planetscale")
    driver = deferred_drive(apply, emulator)

    request = ApplyControlRequest.objects.using("schemabot").create(
        apply_id=apply.pk, operation=operation, status="pending", requested_by="alice"
    )
    stdout, stderr = driver.communicate(timeout=60)

    assert driver.returncode == 0, stderr
    assert row(apply).state == end_state
    request.refresh_from_db()
    assert request.status == "completed" and request.completed_at is not None
    assert stats_of(apply).get("deploys", 0) == deploys


def test_a_deploy_request_number_of_another_branch_is_never_followed(emulator: int) -> None:
    from applies.engines.base import BranchTarget
    from applies.engines.planetscale import PlanetScaleEngine
    from localscale.testing import fast_config

    apply = create_fresh_apply("planetscale")
    neighbour = BranchTarget(
        database=apply.database_name,
        branch="someone-elses-branch",
        apply_identifier="apply-neighbour",
        statements=("CREATE TABLE neighbours (id int)",),
    )
    config = fast_config(f"http://127.0.0.1:{emulator}", organization="ternadmin-demo")
    with PlanetScaleEngine(config) as engine:
        engine.ensure_branch(neighbour)
        engine.apply_branch_changes(neighbour)
        theirs = engine.ensure_deploy_request(neighbour, None)
    # Resume state names the neighbour's request number (a bad edit, a restored backup).
    crashed = recover(apply.pk, emulator, TERNADMIN_CRASH_AT="create_deploy_request:before")
    assert crashed.returncode == -signal.SIGKILL
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_metadata={
            "branch_name": ApplyOperation.objects.using("schemabot")
            .get(apply=apply)
            .engine_resume_metadata["branch_name"],
            "deploy_request_id": theirs.number,
        }
    )
    wait_until_stale()

    resumed = recover(apply.pk, emulator)

    assert resumed.returncode == 0, resumed.stderr
    assert row(apply).state == ApplyState.COMPLETED
    assert stats_of(apply)["deploy_requests_created"] == 1
    assert call_stats()["apply-neighbour"].get("deploys", 0) == 0
    metadata = ApplyOperation.objects.using("schemabot").get(apply=apply).engine_resume_metadata
    assert metadata["deploy_request_id"] != theirs.number
