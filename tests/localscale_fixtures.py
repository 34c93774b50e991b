"""Fixtures for LocalScale's tests: the emulator served from threads of the test process, raw
calls to its API (as any PlanetScale client would make them) and MySQL logins with a branch
password. ``transaction=True`` lets the server threads see the test database.

Test modules import the fixtures by their function names (``api_fixture``…); pytest knows them
by ``localscale``, ``admin`` and ``api``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import MySQLdb
import pytest
from django.utils import timezone
from pytest_django import Settings

from localscale.config import MySQLServer
from localscale.models import Password
from localscale.server import serve_in_thread
from localscale.testing import AUTHORIZATION, TEST_ORGANIZATION, LocalScaleAdmin
from tests.live_processes import localscale_prefix

DATABASE = "shop"
USERS = "CREATE TABLE users (id bigint NOT NULL PRIMARY KEY, name varchar(64) NOT NULL)"
VSCHEMA = '{"tables": {"users": {}}}'


class Api:
    """The PlanetScale API of one emulated database, over real HTTP."""

    def __init__(self, url: str, database: str = DATABASE) -> None:
        self.url = url
        self.base = f"{url}/v1/organizations/{TEST_ORGANIZATION}/databases/{database}/"

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**AUTHORIZATION, **kwargs.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def branch(self, name: str) -> dict[str, Any]:
        """A new branch of main, once it is ready."""
        self.ok("POST", "branches", json={"name": name, "parent_branch": "main"})
        deadline = time.monotonic() + 10
        while not self.ok("GET", f"branches/{name}")["ready"]:
            assert time.monotonic() < deadline, f"branch {name} never became ready"
            time.sleep(0.01)
        return dict(self.ok("GET", f"branches/{name}"))

    def password(self, branch: str, **body: Any) -> dict[str, Any]:
        return dict(self.ok("POST", f"branches/{branch}/passwords", json={"role": "admin", **body}))

    def tables(self, branch: str, keyspace: str = "") -> dict[str, str]:
        query = f"?keyspace={keyspace}" if keyspace else ""
        return {
            t["name"]: t["raw"] for t in self.ok("GET", f"branches/{branch}/schema{query}")["data"]
        }

    def deploy_request(self, branch: str, **body: Any) -> dict[str, Any]:
        return dict(self.ok("POST", "deploy-requests", json={"branch": branch, **body}))

    def wait(self, number: int, *states: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            dr = self.ok("GET", f"deploy-requests/{number}")
            if dr["deployment_state"] in states or time.monotonic() > deadline:
                return dict(dr)
            time.sleep(0.01)


def login(password: dict[str, Any], database: str | None = DATABASE) -> MySQLdb.Connection:
    """mysqlclient, connected where the password says, as it says."""
    host, port = password["access_host_url"].rsplit(":", 1)
    args: dict[str, Any] = {
        "host": host,
        "port": int(port),
        "user": password["username"],
        "password": password["plain_text"],
    }
    if database:
        args["database"] = database
    return MySQLdb.connect(**args)


def expire(password: dict[str, Any]) -> None:
    """Make the password's ttl run out now (instead of sleeping through it)."""
    row = Password.objects.get(username=password["username"])
    assert row.expires_at == row.created_at + timedelta(seconds=row.ttl_seconds)
    Password.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def run(connection: MySQLdb.Connection, *statements: str) -> list[tuple[Any, ...]]:
    cursor = connection.cursor()
    rows: list[tuple[Any, ...]] = []
    for statement in statements:
        cursor.execute(statement)
        rows = list(cursor.fetchall() or ())
    return rows


@pytest.fixture(name="branch_server")
def branch_server_fixture() -> MySQLServer | None:
    """Where branch databases live: None, the schema model (a module may override this)."""
    return None


@pytest.fixture(name="localscale")
def localscale_fixture(settings: Settings, branch_server: MySQLServer | None) -> Iterator[str]:
    settings.LOCALSCALE_TIME_SCALE = 1000.0
    if branch_server is not None:
        settings.LOCALSCALE_MYSQL_URL = branch_server
        settings.LOCALSCALE_DATABASE_PREFIX = localscale_prefix()
    with serve_in_thread() as url:
        yield url


@pytest.fixture(name="admin")
def admin_fixture(localscale: str) -> LocalScaleAdmin:
    return LocalScaleAdmin(localscale)


@pytest.fixture(name="api")
def api_fixture(localscale: str, admin: LocalScaleAdmin) -> Api:
    """The ``shop`` database, its main branch seeded with one keyspace holding ``users``."""
    admin.seed(TEST_ORGANIZATION, DATABASE, {DATABASE: {"tables": [USERS], "vschema": VSCHEMA}})
    return Api(localscale)
