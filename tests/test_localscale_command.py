"""``manage.py localscale``: the emulator as a process of its own, its statistics and reset."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localscale.testing import AUTHORIZATION, TEST_ORGANIZATION
from tests.helpers import REPO_ROOT, clean_environ, free_port, run_manage
from tests.localscale_fixtures import USERS, Api, login, run


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    # Its own embedded database, whichever database the test run uses.
    env = clean_environ(
        TERNADMIN_DATA_DIR=str(tmp_path), TERNADMIN_DEMO="1", LOCALSCALE_TIME_SCALE="1000"
    )
    migrated = run_manage("migrate", "--no-input", "--verbosity", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=15)


@pytest.fixture
def served(environ: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    port, mysql_port = free_port(), free_port()
    log = tmp_path / "localscale.log"
    command = ["localscale", "serve", "--port", str(port), "--mysql-port", str(mysql_port)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=REPO_ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for_health(served)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


def wait_for_health(served: Served, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"localscale serve exited:\n{served.log.read_text()}")
        try:
            httpx.get(f"{served.url}/health", headers=AUTHORIZATION, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"localscale serve did not answer in {timeout}s:\n{served.log.read_text()}")


def stats(environ: dict[str, str]) -> dict[str, dict[str, int]]:
    result = run_manage("localscale", "stats", "--json", env=environ)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_serve_then_stats_per_apply_then_reset(served: Served, environ: dict[str, str]) -> None:
    seed = {
        "organization": TEST_ORGANIZATION,
        "database": "shop",
        "keyspaces": {"shop": {"tables": [USERS]}},
    }
    assert httpx.post(f"{served.url}/admin/databases", json=seed, headers=AUTHORIZATION).is_success
    api = Api(served.url)
    headers = {"X-Ternadmin-Apply": "apply-cmd"}
    api.ok("POST", "branches", json={"name": "feature"}, headers=headers)
    time.sleep(0.05)  # ready after 1 s at time scale 1000
    password = api.ok("POST", "branches/feature/passwords", json={"role": "admin"}, headers=headers)
    with login(password) as connection:  # the serve process's MySQL endpoint
        run(connection, "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY)")
    dr = api.ok("POST", "deploy-requests", json={"branch": "feature"}, headers=headers)
    api.wait(dr["number"], "ready")
    api.ok("POST", f"deploy-requests/{dr['number']}/deploy", headers=headers)
    api.wait(dr["number"], "complete_pending_revert")
    assert set(api.tables("main")) == {"orders", "users"}

    counts = stats(environ)["apply-cmd"]
    assert counts["branches_created"] == 1
    assert counts["deploy_requests_created"] == 1
    assert counts["deploys"] == 1
    assert counts["passwords_created"] == counts["live_passwords"] == 1
    text = run_manage("localscale", "stats", env=environ).stdout
    assert "apply-cmd" in text and "deploy_requests_created" in text

    reset = run_manage("localscale", "reset", env=environ)
    assert reset.returncode == 0 and "deleted" in reset.stdout
    assert stats(environ) == {}

    assert served.stop(signal.SIGINT) == 0
    log = served.log.read_text()
    assert f"LocalScale serving on {served.url}, branch connections on" in log
    assert "LocalScale stopped." in log


def test_sigterm_stops_it_cleanly(served: Served) -> None:
    assert served.stop(signal.SIGTERM) == 0
    assert "LocalScale stopped." in served.log.read_text()


def test_it_asks_for_migrate_first(tmp_path: Path) -> None:
    env = clean_environ(TERNADMIN_DATA_DIR=str(tmp_path), TERNADMIN_DEMO="1")
    result = run_manage("localscale", "stats", env=env)
    assert result.returncode != 0
    assert "run `manage.py migrate` first" in result.stderr
