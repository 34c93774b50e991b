"""Several ternadmin nodes on one Redis broker: kill one mid-drive, the other finishes the batch.

Two nodes share this run's MariaDB databases and the machine's Redis server (under a cluster
name of this run's own, whose keys are deleted afterwards), and drive a batch of fresh
PlanetScale applies against the emulator, deploying in real time. Node A starts alone and
takes every drive loop; once the batch is mid-drive, node B joins, and node A's cluster (or
the whole node: its cluster and its console) is killed with SIGKILL. Node B must finish every
apply within one staleness window plus one sweep pass (plus the steps that were left), with one
branch, one deploy request and at most one deploy each, and no branch password left.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from applies.models import Apply, Drive, DriveLoop
from applies.states import TERMINAL_APPLY_STATES, ApplyState
from localscale.testing import LocalScaleAdmin
from tests.conftest import REDIS_URL
from tests.helpers import free_port, run_manage
from tests.live_processes import (
    Group,
    engine_env,
    fresh_planetscale_apply,
    kill_group,
    serve_emulator,
    start_cluster,
    start_group,
    stop_group,
)

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

BATCH = 6
STALE_AFTER = 5
SWEEP_EVERY = 3.0  # the test runs a sweep pass this often, as the schedule would
SLACK = 45.0  # the steps left after the takeover (a few per apply), on a loaded machine
MID_DRIVE = (
    ApplyState.VALIDATING_DEPLOY_REQUEST,
    ApplyState.RUNNING,
    ApplyState.CUTTING_OVER,
    ApplyState.REVERT_WINDOW,
)


@pytest.fixture
def cluster_name() -> Iterator[str]:
    """A django-q2 cluster name of this run's own (its Redis keys are django_q:<name>:…),
    deleted afterwards."""
    name = f"{settings.DATABASES['default']['NAME']}_{uuid.uuid4().hex[:8]}"
    yield name
    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(match=f"django_q:{name}:*"))
    if keys:
        server.delete(*keys)


@pytest.fixture
def emulator() -> Iterator[int]:
    with serve_emulator() as port:
        yield port


def node_env(port: int, node: str, cluster_name: str) -> dict[str, str]:
    return engine_env(
        port,
        TERNADMIN_NODE=node,
        TERNADMIN_REDIS_URL=REDIS_URL,
        TERNADMIN_Q_NAME=cluster_name,
        TERNADMIN_Q_WORKERS="3",  # two drive loops and the sweep's worker
        TERNADMIN_STALE_AFTER_SECONDS=str(STALE_AFTER),
        PLANETSCALE_PASSWORD_TTL_SECONDS="5",
    )


def sweep(environ: dict[str, str]) -> None:
    done = run_manage("sweep", env=environ, timeout=60)
    assert done.returncode == 0, done.stderr


def batch_states(applies: list[Apply]) -> list[str]:
    rows = Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies])
    return [row.state for row in rows]


def sweep_until(condition: Any, environ: dict[str, str], timeout: float, what: str) -> float:
    """Run a sweep pass every ``SWEEP_EVERY`` seconds until ``condition()``; seconds taken."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            drives = list(Drive.objects.values_list("apply_id", "outcome", "held_by", "message"))
            loops = list(DriveLoop.objects.values_list("slot", "generation", "holder"))
            pytest.fail(f"timed out ({timeout:.0f}s) waiting for {what}: {drives} {loops}")
        sweep(environ)
        time.sleep(SWEEP_EVERY)
    return time.monotonic() - started


@pytest.mark.parametrize("killed", ["cluster", "node"])
def test_the_other_node_finishes_every_apply_when_one_dies_mid_drive(
    emulator: int, cluster_name: str, tmp_path: Path, killed: str
) -> None:
    admin = LocalScaleAdmin(f"http://127.0.0.1:{emulator}")
    admin.set_time_scale(1.0)  # real time: deploys take seconds, drives are caught mid-way
    applies = [fresh_planetscale_apply(emulator) for _ in range(BATCH)]
    Apply.objects.using("schemabot").filter(pk__in=[a.pk for a in applies]).update(
        options={"skip_revert": True}
    )
    env_a = node_env(emulator, "node-a", cluster_name)
    env_b = node_env(emulator, "node-b", cluster_name)
    groups: list[Group] = []
    try:
        node_a = [start_cluster(env_a, tmp_path / "a-cluster.log")]
        if killed == "node":
            web = ["runserver", f"127.0.0.1:{free_port()}", "--noreload"]
            node_a.append(start_group(web, env_a, tmp_path / "a-web.log"))
        groups += node_a

        def mid_drive() -> bool:
            states = batch_states(applies)
            return sum(state in MID_DRIVE for state in states) >= BATCH // 2

        sweep_until(mid_drive, env_a, 120, "half the batch to be mid-drive on node A")
        holders = set(DriveLoop.objects.exclude(holder="").values_list("holder", flat=True))
        assert holders and all(holder.startswith("node-a/") for holder in holders), holders
        assert not any(state in TERMINAL_APPLY_STATES for state in batch_states(applies))
        groups.append(start_cluster(env_b, tmp_path / "b-cluster.log"))

        for group in node_a:
            kill_group(group)
        took = sweep_until(
            lambda: all(state in TERMINAL_APPLY_STATES for state in batch_states(applies)),
            env_b,
            STALE_AFTER + SWEEP_EVERY + SLACK,
            f"node B to finish the batch after node A's {killed} was killed",
        )
    finally:
        for group in reversed(groups):
            stop_group(group)

    assert batch_states(applies) == [ApplyState.COMPLETED] * BATCH, took
    stats = admin.stats()
    for apply in applies:
        done = stats[apply.apply_identifier]
        assert (done["branches_created"], done["deploy_requests_created"]) == (1, 1), done
        assert done["deploys"] <= 1 and done["live_passwords"] == 0, done
