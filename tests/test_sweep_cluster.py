"""The scheduled reclaim end to end: real django-q2 clusters (the ORM broker), the emulator, and
drives stepped by the clusters' drive loops."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from django_q.tasks import async_task

from applies.demo import MINIMUM_APPLIES
from applies.models import Apply, ApplyControlRequest, Drive, SweepRun
from applies.states import SETUP_PHASE_STATES, TERMINAL_APPLY_STATES
from localscale.calls import call_stats
from tests.helpers import REPO_ROOT
from tests.live_processes import (
    Group,
    engine_env,
    fresh_planetscale_apply,
    serve_emulator,
    start_cluster,
    stop_group,
)

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]


def env(port: int, **extra: str) -> dict[str, str]:
    # SchemaBot's one-minute window unless a test asks for less: the demo data's fresh applies
    # must stay fresh between the dry run and the first pass.
    return engine_env(port, **{"TERNADMIN_STALE_AFTER_SECONDS": "60", **extra})


def manage(*args: str, environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[..., Group]]:
    """Starts the emulator; yields a starter of clusters; stops them all after."""
    started: list[Group] = []
    with serve_emulator() as port:

        def start(**extra: str) -> Group:
            cluster = start_cluster(env(port, **extra), tmp_path / f"cluster-{len(started)}.log")
            started.append(cluster)
            return cluster

        start.port = port  # type: ignore[attr-defined]
        yield start
        for cluster in reversed(started):
            stop_group(cluster)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            drives = list(Drive.objects.values_list("apply_id", "outcome", "message"))
            states = list(Apply.objects.using("schemabot").values_list("pk", "state", "engine"))
            pytest.fail(f"timed out waiting for {what}; drives: {drives}; applies: {states}")
        time.sleep(0.5)


def test_demo_data_is_reclaimed_as_the_dry_run_predicted(world: Any) -> None:
    seeded = manage(
        "seed_demo", "--applies", str(MINIMUM_APPLIES), environ=env(world.port)
    ).communicate(timeout=120)
    assert "applies" in seeded[0], seeded[1]
    leases_before = dict(Apply.objects.using("schemabot").values_list("pk", "lease_token"))
    out, err = manage("sweep", "--dry-run", "--json", environ=env(world.port)).communicate(
        timeout=60
    )
    predicted = {unit["apply_id"] for unit in json.loads(out)["would_claim"]}
    setup_stale = (
        set(
            Apply.objects.using("schemabot")
            .filter(state__in=SETUP_PHASE_STATES, engine="planetscale")
            .values_list("pk", flat=True)
        )
        & predicted
    )
    assert len(setup_stale) == len(SETUP_PHASE_STATES), err  # one stale apply per phase

    world()
    async_task("applies.tasks.sweep")
    wait_for(lambda: SweepRun.objects.exists(), 60, "the first sweep pass")

    first = SweepRun.objects.order_by("started_at").first()
    assert first is not None and first.errors == 0, first.report if first else None
    claimed = {unit["apply_id"] for unit in first.report["claimed"]}
    assert claimed == predicted
    untouched = set(leases_before) - predicted
    after = dict(Apply.objects.using("schemabot").values_list("pk", "lease_token"))
    spirit = set(
        Apply.objects.using("schemabot").filter(engine="spirit").values_list("pk", flat=True)
    )
    assert all(after[pk] == leases_before[pk] for pk in spirit)
    assert {s["apply_id"] for s in first.report["skipped"]} <= spirit

    # Deferred cutovers wait for a person, and hold their database's one deploy slot until
    # then; cut them over as an operator would, so the deploys queued behind them can run.
    waiting = Apply.objects.using("schemabot").filter(
        engine="planetscale", state="waiting_for_cutover"
    )
    for apply in waiting:
        ApplyControlRequest.objects.using("schemabot").get_or_create(
            apply_id=apply.pk,
            operation="cutover",
            defaults={"status": "pending", "requested_by": "operator"},
        )

    def setup_phase_applies_finished() -> bool:
        states = Apply.objects.using("schemabot").filter(pk__in=setup_stale)
        return all(a.state in TERMINAL_APPLY_STATES for a in states)

    wait_for(setup_phase_applies_finished, 120, "the stale setup-phase applies to finish")
    for apply in Apply.objects.using("schemabot").filter(pk__in=setup_stale):
        stats = call_stats()[apply.apply_identifier]
        assert stats["branches_created"] <= 1 and stats["deploy_requests_created"] <= 1
        assert stats["deploys"] <= 1
    assert untouched  # fresh and terminal ones were there and were left alone at first


def test_two_clusters_claim_each_apply_once_and_never_duplicate_engine_work(
    world: Any,
) -> None:
    applies = [fresh_planetscale_apply(world.port) for _ in range(6)]
    windows = {"TERNADMIN_STALE_AFTER_SECONDS": "5"}
    world(TERNADMIN_NODE="node-a", **windows)
    world(TERNADMIN_NODE="node-b", **windows)
    deadline = time.time() + 20  # four staleness windows
    while time.time() < deadline:
        async_task("applies.tasks.sweep")
        time.sleep(0.5)

    def all_done() -> bool:
        return all(
            a.state in TERMINAL_APPLY_STATES
            for a in Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies])
        )

    wait_for(all_done, 90, "the applies to finish")
    drives = Counter(Drive.objects.values_list("apply_id", flat=True))
    assert drives == Counter({a.pk: 1 for a in applies})
    stats = call_stats()
    for apply in applies:
        s = stats[apply.apply_identifier]
        assert (s["branches_created"], s["deploy_requests_created"], s["deploys"]) == (1, 1, 1)
    owners = {owner.split("/")[0] for owner in SweepRun.objects.values_list("owner", flat=True)}
    assert owners == {"node-a", "node-b"}


def restart_mariadb() -> None:
    if shutil.which("mariadb-admin") is None or not Path("/usr/sbin/mariadbd").exists():
        pytest.skip("needs a local MariaDB server this test may stop and start")
    subprocess.run(["mariadb-admin", "--user=root", "shutdown"], check=True, timeout=60)
    subprocess.run(
        [
            "start-stop-daemon",
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/mariadbd",
        ],
        check=True,
        timeout=30,
    )
    for _ in range(120):
        ping = subprocess.run(["mariadb-admin", "--user=root", "ping"], capture_output=True)
        if ping.returncode == 0:
            break
        time.sleep(0.5)
    connections.close_all()  # this test process's own sessions died with the server


@pytest.mark.restarts_mariadb
def test_a_mariadb_restart_mid_drive_is_survived_without_restarting_ternadmin(
    world: Any,
) -> None:
    applies = [fresh_planetscale_apply(world.port) for _ in range(4)]
    Apply.objects.using("schemabot").update(options={"skip_revert": True})
    slow = {"TERNADMIN_STALE_AFTER_SECONDS": "5", "LOCALSCALE_TIME_SCALE": "2"}
    world(**slow)
    async_task("applies.tasks.sweep")
    wait_for(lambda: Drive.objects.filter(outcome=Drive.Outcome.RUNNING).exists(), 60, "drives")

    restart_mariadb()
    restarted_at = timezone.now()

    def all_done() -> bool:
        async_task("applies.tasks.sweep")  # a pass per poll, like the schedule would
        return all(
            a.state in TERMINAL_APPLY_STATES
            for a in Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies])
        )

    wait_for(all_done, 180, "the applies to finish after the restart")
    # The drive loops may finish every apply before a pass enqueued after the restart has run;
    # one such pass then succeeds too, on the same cluster.
    wait_for(
        lambda: SweepRun.objects.filter(ok=True, started_at__gt=restarted_at).exists(),
        60,
        "a sweep pass to succeed after the restart",
    )
    stats = call_stats()
    for apply in Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies]):
        assert apply.state == "completed", apply.error_message
        # Never half-claimed: owner and token are written together or not at all.
        assert bool(apply.lease_owner) == bool(apply.lease_token)
        s = stats[apply.apply_identifier]
        assert (s["branches_created"], s["deploy_requests_created"], s["deploys"]) == (1, 1, 1)


@pytest.mark.parametrize("crash_at", ["create_branch:after", "deploy:after"])
def test_a_worker_killed_mid_step_loses_nothing(world: Any, tmp_path: Path, crash_at: str) -> None:
    applies = [fresh_planetscale_apply(world.port) for _ in range(3)]
    marker = tmp_path / "crashed"
    # The first worker to reach the point dies there (SIGKILL, mid-step: the engine call went
    # out, its result was never persisted); the cluster replaces the worker, and the drive is
    # taken again by a loop that the next sweep pass enqueues once the dead one's slot lapsed.
    world(TERNADMIN_CRASH_AT=crash_at, TERNADMIN_CRASH_ONCE=str(marker))
    async_task("applies.tasks.sweep")

    def all_done() -> bool:
        async_task("applies.tasks.sweep")  # a pass per poll, like the schedule would
        return all(
            a.state in TERMINAL_APPLY_STATES
            for a in Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies])
        )

    wait_for(all_done, 120, "the applies to finish after the crash")
    assert marker.exists()  # a worker did die mid-step
    stats = call_stats()
    for apply in Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies]):
        assert apply.state == "completed", apply.error_message
        s = stats[apply.apply_identifier]
        assert (s["branches_created"], s["deploy_requests_created"], s["deploys"]) == (1, 1, 1)
    assert Counter(Drive.objects.values_list("apply_id", flat=True)) == Counter(
        {a.pk: 1 for a in applies}
    )  # resumed by the same drive: never handed back, never claimed again
