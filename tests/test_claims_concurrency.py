"""Claims under real concurrency: separate processes against MariaDB, committed data."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest

from applies import claims
from applies.dbclock import SecondsAgo
from applies.leases import heartbeat_many
from applies.models import Apply, Lock, Plan
from applies.states import ApplyState
from tests.claim_fixtures import make_apply, reload
from tests.helpers import REPO_ROOT
from tests.live_processes import process_env

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]


def worker_env(**extra: str) -> dict[str, str]:
    """Point a subprocess at this test run's databases (the test_* copies)."""
    return process_env(**extra)


def start_worker(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.claim_worker", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    out = []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=180)
        assert worker.returncode == 0, stderr
        assert "Deadlock" not in stderr, stderr
        result = json.loads(stdout)
        assert result["error"] == "", result["error"]
        out.append(result)
    return out


def test_sixteen_processes_race_for_one_pending_apply() -> None:
    apply = make_apply(ApplyState.PENDING)
    start_at = time.time() + 6  # after every interpreter has imported Django
    env = worker_env()
    workers = [
        start_worker("race", "--owner", f"racer-{n}", "--start-at", str(start_at), env=env)
        for n in range(16)
    ]

    claimed = [pair for result in results(workers) for pair in result["claimed"]]

    assert len(claimed) == 1
    assert claimed[0][0] == apply.pk
    row = reload(apply)
    assert (row.state, row.lease_token) == (ApplyState.RUNNING, claimed[0][1])


def seed_stale_running(count: int) -> set[int]:
    lock = Lock.objects.using("schemabot").create(
        database_name="orders", database_type="vitess", repository="acme/s", pull_request=1
    )
    plan = Plan.objects.using("schemabot").create(
        plan_identifier="plan-bulk",
        database_name="orders",
        database_type="vitess",
        repository="acme/s",
        pull_request=1,
        schema_files={},
        plan_data={},
    )
    Apply.objects.using("schemabot").bulk_create(
        Apply(
            apply_identifier=f"apply-bulk-{n:05d}",
            lock=lock,
            plan=plan,
            database_name=f"db_{n}",
            database_type="vitess",
            repository="acme/s",
            pull_request=1,
            environment="staging",
            deployment="default",
            engine="planetscale",
            state=ApplyState.RUNNING if n % 2 else ApplyState.CREATING_DEPLOY_REQUEST,
        )
        for n in range(count)
    )
    Apply.objects.using("schemabot").update(updated_at=SecondsAgo(300))
    return set(Apply.objects.using("schemabot").values_list("pk", flat=True))


def test_eight_processes_drain_two_thousand_stale_applies_exactly_once() -> None:
    ids = seed_stale_running(2000)
    start_at = time.time() + 5
    env = worker_env()
    workers = [
        start_worker("drain", "--owner", f"drainer-{n}", "--start-at", str(start_at), env=env)
        for n in range(8)
    ]

    outcome = results(workers)

    claimed = [pair for result in outcome for pair in result["claimed"]]
    assert Counter(apply_id for apply_id, _ in claimed).most_common(1)[0][1] == 1
    assert {apply_id for apply_id, _ in claimed} == ids
    assert len({token for _, token in claimed}) == len(claimed) == 2000
    # Every process got a share: they ran concurrently, not one after another.
    assert all(result["claimed"] for result in outcome)
    stored = dict(Apply.objects.using("schemabot").values_list("pk", "lease_token"))
    assert stored == dict(claimed)


def test_a_live_driver_keeps_its_apply_and_a_dead_one_loses_it(
    settings: Any,
) -> None:
    settings.TERNADMIN_STALE_AFTER_SECONDS = 2
    apply = make_apply(ApplyState.VALIDATING_BRANCH)
    driver = claims.find_next_apply_claim("driver/1")
    assert driver is not None
    held = (driver.lease.row_id, driver.lease.token)
    stop = threading.Event()

    def keep_heartbeating() -> None:
        while not stop.is_set():
            heartbeat_many("applies", [held])
            stop.wait(0.5)

    beating = threading.Thread(target=keep_heartbeating)
    beating.start()
    env = worker_env(TERNADMIN_STALE_AFTER_SECONDS="2", TERNADMIN_HEARTBEAT_SECONDS="1")
    try:
        thief = start_worker(
            "hammer",
            "--owner",
            "thief",
            "--apply-id",
            str(apply.pk),
            "--until",
            str(time.time() + 8),
            env=env,
        )
        stolen = results([thief])[0]["claimed"]
    finally:
        stop.set()
        beating.join()
    assert stolen == []  # 8 s of trying against a 2 s window: the heartbeat kept it
    assert reload(apply).lease_token == driver.lease.token

    # The driver dies (no more heartbeats): a claimer takes it once the window passes.
    thief = start_worker(
        "hammer", "--owner", "thief", "--apply-id", str(apply.pk), "--until",
        str(time.time() + 20), env=env,
    )  # fmt: skip
    taken = results([thief])[0]["claimed"]
    assert [apply_id for apply_id, _ in taken] == [apply.pk]
    assert heartbeat_many("applies", [held]) == {held}  # lost
    row = reload(apply)
    assert (row.lease_owner, row.lease_token) == ("thief", taken[0][1])
