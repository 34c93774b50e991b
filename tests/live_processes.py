"""ternadmin as separate processes against this test run's MariaDB databases and an emulator.

Drives, claimers and clusters started by a test must read the ``test_*`` databases pytest-django
created, not whatever this shell points at; ``process_env`` says so, and ``engine_env`` adds the
LocalScale emulator and short windows. ``serve_emulator`` runs ``manage.py localscale serve``;
``start_cluster`` a scheduler (``manage.py qcluster``) in a process group of its own, which
``stop_group`` stops as an operator would and ``kill_group`` kills outright.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings

from applies.demo.fresh import ORDERS_PLAN, FreshPlan, create_fresh_apply
from applies.models import Apply
from localscale.config import MySQLServer
from localscale.testing import LocalScaleAdmin
from tests.helpers import REPO_ROOT, clean_environ, free_port, mariadb_server, mysql_url


def database_settings() -> dict[str, str]:
    """The test databases, in standalone demo mode."""
    return {
        "TERNADMIN_DATABASE_URL": mysql_url(settings.DATABASES["default"]["NAME"]),
        "SCHEMABOT_DATABASE_URL": mysql_url(settings.DATABASES["schemabot"]["NAME"]),
        "SCHEMABOT_MODE": "standalone",
        "TERNADMIN_DEMO": "1",
    }


def emulator_settings() -> dict[str, str]:
    """The emulator's branch databases: real ones on the test server when the run is on
    MariaDB (named after this run's test database, so parallel runs never collide)."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.mysql":
        return {}
    return {
        "LOCALSCALE_MYSQL_URL": mysql_url("").rstrip("/"),
        "LOCALSCALE_DATABASE_PREFIX": localscale_prefix(),
    }


def branch_server() -> MySQLServer:
    """This run's MariaDB server, as the emulator's branch server."""
    server = mariadb_server()
    return MySQLServer(
        server["host"], server.get("port", 3306), server["user"], server.get("password", "")
    )


def localscale_prefix() -> str:
    """``<test database>_lsc``: this run's own prefix for the emulator's databases."""
    return f"{settings.DATABASES['default']['NAME']}_lsc"[:40].lower()


def engine_settings(port: int, *, stale_after: int = 2) -> dict[str, str]:
    """The test databases plus the emulator on ``port``, a fast clock and short windows."""
    return {
        **database_settings(),
        **emulator_settings(),
        "PLANETSCALE_API_URL": f"http://127.0.0.1:{port}",
        "PLANETSCALE_SERVICE_TOKEN_ID": "test",
        "PLANETSCALE_SERVICE_TOKEN": "test-secret",
        "LOCALSCALE_TIME_SCALE": "1000",
        "TERNADMIN_STALE_AFTER_SECONDS": str(stale_after),
        "TERNADMIN_HEARTBEAT_SECONDS": "1",
        "TERNADMIN_ENGINE_POLL_SECONDS": "0.1",
        "TERNADMIN_LOG_LEVEL": "WARNING",
    }


# A cluster for tests: loops hand over every 10 s (half the timeout), so a test sees several
# generations; a lost loop is re-enqueued after 5 s + three heartbeats.
CLUSTER_SETTINGS = {
    "TERNADMIN_Q_TIMEOUT": "20",
    "TERNADMIN_Q_RETRY": "30",
    "TERNADMIN_SWEEP_TIME_BUDGET_SECONDS": "5",
}


@dataclass
class Group:
    """A process started as the leader of a process group of its own, its output in a file."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


def start_group(args: list[str], environ: dict[str, str], log: Path) -> Group:
    """``manage.py <args>`` with exactly ``environ``, leading a process group of its own, its
    output (both streams) in ``log`` (a pipe nobody reads would block it)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Group(process, log)


def start_cluster(environ: dict[str, str], log: Path) -> Group:
    """``manage.py qcluster`` with ``environ`` (``CLUSTER_SETTINGS`` unless it says otherwise):
    its sentinel and workers are in its process group."""
    return start_group(["qcluster"], {**CLUSTER_SETTINGS, **environ}, log)


def stop_group(group: Group, timeout: float = 30) -> None:
    """Stop a process group as Ctrl-C would (SIGINT to every member: a drive loop ends after
    its step at hand and hands over), then kill what is left."""
    if group.alive():
        _signal_group(group, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            group.process.wait(timeout=timeout)
    kill_group(group)


def kill_group(group: Group) -> None:
    """SIGKILL every process of the group, as when a node dies."""
    _signal_group(group, signal.SIGKILL)
    group.process.wait()


def _signal_group(group: Group, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group.process.pid, signum)


def process_env(**overrides: str) -> dict[str, str]:
    """This environment without ternadmin settings, then the test databases, then overrides."""
    return clean_environ(**{**database_settings(), **overrides})


def engine_env(port: int, **overrides: str) -> dict[str, str]:
    return clean_environ(**{**engine_settings(port), **overrides})


@contextmanager
def serve_emulator() -> Iterator[int]:
    """``manage.py localscale serve`` on a free port, answering; its port."""
    port, mysql_port = free_port(), free_port()
    command = ["localscale", "serve", "--port", str(port), "--mysql-port", str(mysql_port)]
    server = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=REPO_ROOT,
        env=engine_env(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield port
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)


def fresh_planetscale_apply(port: int, plan: FreshPlan = ORDERS_PLAN) -> Apply:
    """A never-driven PlanetScale apply whose database's production branch, at the emulator on
    ``port``, starts at the plan's "before" schema (so its drive runs real DDL)."""
    apply = create_fresh_apply("planetscale", plan)
    admin = LocalScaleAdmin(f"http://127.0.0.1:{port}")
    admin.seed(settings.PLANETSCALE_ORGANIZATION, apply.database_name, plan.production())
    return apply
