"""Branch changes over a real MySQL connection: VSchema first, then only the DDL still missing.

The branch is a scratch MariaDB database reached with a real, password-protected account (as a
PlanetScale branch password gives one); the API answers come from the documented shapes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import MySQLdb
import pymysql
import pytest
from django.db import connections

from applies.engines.base import EngineRejected, EngineUnavailable
from applies.engines.planetscale.branch_changes import BranchWriter, statements_for
from applies.engines.planetscale.branch_sql import (
    BranchConnection,
    _tls_arguments,
    host_and_port,
    is_loopback,
    mysql_driver,
)
from applies.engines.planetscale.diff import SchemaDiff, diff_keyspace, diff_schema
from applies.engines.planetscale.schema_files import desired_schema
from applies.engines.planetscale.types import BranchPassword, SchemaTable
from tests.helpers import free_port, mariadb_server, schema_snapshot, scratch_database
from tests.planetscale_fakes import FakeAPI, client

BEFORE = "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY, total int NOT NULL)"
AFTER = "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY, total int NOT NULL, note varchar(64))"
NOTES = "CREATE TABLE order_notes (id bigint NOT NULL PRIMARY KEY, body text)"
PLANNED_SQL = (
    "ALTER TABLE orders ADD COLUMN note varchar(64)",
    NOTES,
)


def test_a_host_is_read_from_access_host_url() -> None:
    assert host_and_port("aws.connect.psdb.cloud") == ("aws.connect.psdb.cloud", 3306)
    assert host_and_port("127.0.0.1:3307") == ("127.0.0.1", 3307)
    assert host_and_port("mysql://h.example:3310") == ("h.example", 3310)
    with pytest.raises(EngineRejected, match="no usable host"):
        host_and_port("")


def test_tls_is_required_and_verified_unless_the_host_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("aws.connect.psdb.cloud") and not is_loopback("10.0.0.1")
    assert _tls_arguments(MySQLdb)["ssl_mode"] == "VERIFY_IDENTITY"
    context = _tls_arguments(pymysql)["ssl"]
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


def test_mysqlclient_is_preferred_when_it_is_installed() -> None:
    assert mysql_driver() is MySQLdb


@dataclass
class Branch:
    """A scratch database standing for one keyspace of a branch, and an account for it."""

    keyspace: str
    password: BranchPassword
    admin: MySQLdb.Connection

    def tables(self) -> list[SchemaTable]:
        return [SchemaTable(name, raw) for name, raw in schema_snapshot(self.admin).items()]


@pytest.fixture
def branch() -> Iterator[Branch]:
    prefix = connections["schemabot"].settings_dict["NAME"][:40]
    with scratch_database(f"{prefix}_ks") as admin:
        keyspace = admin.get_host_info() and _database(admin)
        user, secret = f"{prefix[:20]}_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        root = MySQLdb.connect(**mariadb_server(), autocommit=True)
        cursor = root.cursor()
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, secret))
        cursor.execute(f"GRANT ALL ON `{keyspace}`.* TO %s@'%%'", (user,))
        admin.cursor().execute(BEFORE)
        server = mariadb_server()
        host = f"{server['host']}:{server.get('port', 3306)}"
        try:
            yield Branch(keyspace, BranchPassword("pw1", user, secret, host), admin)
        finally:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
            root.close()


def _database(connection: MySQLdb.Connection) -> str:
    cursor = connection.cursor()
    cursor.execute("SELECT DATABASE()")
    return str(cursor.fetchone()[0])


def desired_diff(branch: Branch) -> SchemaDiff:
    files = {"orders.sql": AFTER, "order_notes.sql": NOTES}
    desired = desired_schema(json.dumps({branch.keyspace: {"Files": files}}))
    keyspace = desired.keyspaces[branch.keyspace]
    return diff_schema(desired, [diff_keyspace(keyspace, branch.tables(), None)])


def planned(branch: Branch) -> dict[tuple[str, str], str]:
    return {(branch.keyspace, "orders"): PLANNED_SQL[0], (branch.keyspace, "order_notes"): NOTES}


def fake_api(branch: Branch) -> FakeAPI:
    api = FakeAPI()
    body = {
        "id": branch.password.id, "name": "n", "role": "admin",
        "username": branch.password.username, "plain_text": branch.password.plain_text,
        "access_host_url": branch.password.access_host_url,
    }  # fmt: skip
    api.route("POST", "branches/feature/passwords", body)
    api.route("DELETE", "branches/feature/passwords/pw1", httpx.Response(204))
    return api


def writer(api: FakeAPI, **kwargs: object) -> BranchWriter:
    return BranchWriter(client(api), "feature", password_ttl=600, timeout=5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])
def test_only_missing_ddl_runs_and_the_password_is_deleted(branch: Branch) -> None:
    api = fake_api(branch)
    diff = desired_diff(branch)
    assert diff.tables() == {(branch.keyspace, "orders"), (branch.keyspace, "order_notes")}

    done = writer(api).apply(diff, planned(branch))

    assert done.statements == [PLANNED_SQL[1], PLANNED_SQL[0]]  # tables in name order
    assert desired_diff(branch).empty
    assert len(api.calls("POST", "branches/feature/passwords")) == 1
    assert len(api.calls("DELETE", "branches/feature/passwords/pw1")) == 1
    again = writer(api).apply(desired_diff(branch), planned(branch))
    assert again.empty
    assert len(api.calls("POST", "branches/feature/passwords")) == 1  # no password needed


class Killed(Exception):
    pass


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])
def test_after_a_crash_between_two_statements_only_the_second_runs(branch: Branch) -> None:
    api = fake_api(branch)
    seen: list[str] = []

    def die_after_first(when: str) -> None:
        seen.append(when)
        if seen == ["before", "after"]:
            raise Killed

    with pytest.raises(Killed):
        writer(api, on_statement=die_after_first).apply(desired_diff(branch), planned(branch))
    assert len(api.calls("DELETE", "branches/feature/passwords/pw1")) == 1  # finally
    remaining = desired_diff(branch)
    assert remaining.tables() == {(branch.keyspace, "orders")}

    done = writer(api).apply(remaining, planned(branch))

    assert done.statements == [PLANNED_SQL[0]]
    assert desired_diff(branch).empty


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])
def test_vschema_is_written_before_any_ddl(branch: Branch) -> None:
    api = fake_api(branch)
    api.route("PATCH", f"branches/feature/keyspaces/{branch.keyspace}/vschema", {"raw": "{}"})
    files = {"orders.sql": AFTER, "order_notes.sql": NOTES, "vschema.json": '{"sharded":false}'}
    desired = desired_schema(json.dumps({branch.keyspace: {"Files": files}}))
    keyspace = desired.keyspaces[branch.keyspace]
    diff = diff_schema(desired, [diff_keyspace(keyspace, branch.tables(), "{}")])

    done = writer(api).apply(diff, planned(branch))

    assert done.vschemas == [branch.keyspace]
    methods = [request.method for request in api.requests]
    assert methods == ["PATCH", "POST", "DELETE"]


def test_a_table_the_plan_has_no_ddl_for_runs_nothing() -> None:
    desired = desired_schema(json.dumps({"ks": {"Files": {"t.sql": "CREATE TABLE t (id int)"}}}))
    diff = diff_schema(desired, [diff_keyspace(desired.keyspaces["ks"], [], None)])
    with pytest.raises(EngineRejected, match=r"no DDL for table\(s\).*ks\.t"):
        statements_for(diff, {})


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])
def test_a_bad_statement_is_rejected_and_a_dead_server_is_unavailable(branch: Branch) -> None:
    with (
        BranchConnection(branch.password, branch.keyspace, timeout=5, driver=MySQLdb) as conn,
        pytest.raises(EngineRejected, match="1060"),
    ):
        conn.execute("ALTER TABLE orders ADD COLUMN total int")  # already there
    gone = BranchPassword("x", "u", "p", f"127.0.0.1:{free_port()}")
    with pytest.raises(EngineUnavailable, match="2002|2003"):
        BranchConnection(gone, branch.keyspace, timeout=1, driver=pymysql)
