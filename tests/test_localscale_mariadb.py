"""LocalScale on real databases: each branch keyspace a MariaDB database, each branch password a
real account with exactly its branch's grants, deploys that change main's tables for real.

The emulator's databases and accounts take their prefix from this run's test database, and are
dropped after each test (``admin.reset()``), so parallel runs never meet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import MySQLdb
import pytest

from localscale import ddl, naming
from localscale.config import MySQLServer
from localscale.testing import TEST_ORGANIZATION, LocalScaleAdmin
from tests.helpers import mariadb_server
from tests.live_processes import branch_server
from tests.localscale_fixtures import (
    DATABASE,
    Api,
    admin_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    expire,
    localscale_fixture,  # noqa: F401
    login,
    run,
)

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

NICKNAME = "ALTER TABLE users ADD COLUMN nickname varchar(64) NOT NULL DEFAULT 'n/a'"


@pytest.fixture(name="branch_server")
def real_databases() -> MySQLServer:
    """This run's MariaDB server holds the branch databases and accounts."""
    return branch_server()


@pytest.fixture(autouse=True)
def _cleanup(admin: LocalScaleAdmin) -> Iterator[None]:
    yield
    admin.reset()
    assert _ours("SHOW DATABASES LIKE %s", naming.database_pattern()) == []
    assert _ours("SELECT User FROM mysql.user WHERE User LIKE %s", naming.account_pattern()) == []


def _root() -> MySQLdb.Connection:
    return MySQLdb.connect(**mariadb_server(), autocommit=True)


def _ours(query: str, pattern: str) -> list[Any]:
    with _root() as connection:
        return run(connection, query.replace("%s", f"'{pattern}'"))


def database(branch: str, keyspace: str = DATABASE) -> str:
    return naming.database_name(TEST_ORGANIZATION, DATABASE, branch, keyspace)


def direct(password: dict[str, Any], branch: str) -> MySQLdb.Connection:
    """The password's account, straight on MariaDB (not through the emulator's endpoint)."""
    server = mariadb_server()
    return MySQLdb.connect(
        host=server["host"],
        port=server.get("port", 3306),
        user=password["username"],
        password=password["plain_text"],
        database=database(branch),
    )


def test_every_branch_keyspace_is_a_real_database(api: Api) -> None:
    api.branch("feature")
    names = {row[0] for row in _ours("SHOW DATABASES LIKE %s", naming.database_pattern())}
    # (Emulators other tests ran as processes may have left databases of their own.)
    assert {database("main"), database("feature")} <= names
    assert all(len(name) <= 64 for name in names)
    with _root() as connection:
        (_, text), *_ = run(connection, f"SHOW CREATE TABLE `{database('feature')}`.users")
    assert api.tables("feature")["users"] == ddl.without_counter(text)


def test_a_password_is_an_account_with_exactly_its_branchs_grants(api: Api) -> None:
    api.branch("feature")
    password = api.password("feature", ttl=600)
    with _root() as connection:
        grants = run(connection, f"SHOW GRANTS FOR '{password['username']}'@'%'")
    granted = " ".join(row[0] for row in grants)
    assert f"`{database('feature')}`" in granted and database("main") not in granted
    with direct(password, "feature") as connection:
        run(connection, "CREATE TABLE direct_ok (id int PRIMARY KEY)")
    with pytest.raises(MySQLdb.OperationalError) as denied:
        direct(password, "main")
    assert denied.value.args[0] in {1044, 1045}  # access denied to main's database


def test_ddl_through_the_endpoint_lands_in_the_branch_database(api: Api) -> None:
    api.branch("feature")
    with login(api.password("feature")) as connection:
        run(connection, NICKNAME, "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY)")
        assert run(connection, "SELECT DATABASE()") == [(DATABASE,)]
    with _root() as connection:
        tables = run(connection, f"SHOW TABLES FROM `{database('feature')}`")
    assert {row[0] for row in tables} == {"orders", "users"}
    assert "nickname" in api.tables("feature")["users"]
    assert "nickname" not in api.tables("main")["users"]


def test_deploy_changes_main_for_real_keeping_rows_and_revert_restores_it(api: Api) -> None:
    with _root() as connection:
        run(connection, f"INSERT INTO `{database('main')}`.users VALUES (1, 'ada'), (2, 'bob')")
    before = api.tables("main")
    api.branch("feature")
    with login(api.password("feature")) as connection:
        run(connection, NICKNAME)
    dr = api.deploy_request("feature")
    api.wait(dr["number"], "ready")
    api.ok("POST", f"deploy-requests/{dr['number']}/deploy")
    api.wait(dr["number"], "complete_pending_revert")
    with _root() as connection:
        rows = run(connection, f"SELECT id, name, nickname FROM `{database('main')}`.users")
        kept = run(connection, f"SHOW TABLES FROM `{database('main')}` LIKE '\\_ls%'")
    assert sorted(rows) == [(1, "ada", "n/a"), (2, "bob", "n/a")]
    assert kept == [(f"_ls{dr['number']}_users",)]  # the old table, for the revert window
    assert "nickname" in api.tables("main")["users"]

    api.ok("POST", f"deploy-requests/{dr['number']}/revert")
    api.wait(dr["number"], "complete_revert")
    assert api.tables("main") == before
    with _root() as connection:
        assert sorted(run(connection, f"SELECT * FROM `{database('main')}`.users")) == [
            (1, "ada"),
            (2, "bob"),
        ]


def test_skip_revert_drops_the_kept_table(api: Api) -> None:
    api.branch("feature")
    with login(api.password("feature")) as connection:
        run(connection, NICKNAME)
    dr = api.deploy_request("feature")
    api.wait(dr["number"], "ready")
    api.ok("POST", f"deploy-requests/{dr['number']}/deploy")
    api.wait(dr["number"], "complete_pending_revert")
    api.ok("POST", f"deploy-requests/{dr['number']}/skip-revert")
    with _root() as connection:
        tables = {row[0] for row in run(connection, f"SHOW TABLES FROM `{database('main')}`")}
    assert tables == {"users"}


def test_an_expired_account_is_dropped_and_its_session_ended(api: Api) -> None:
    api.branch("feature")
    password = api.password("feature", ttl=600)
    session = direct(password, "feature")
    try:
        run(session, "SELECT 1")
        expire(password)
        deadline = time.monotonic() + 10
        while _ours("SELECT User FROM mysql.user WHERE User = %s", password["username"]):
            assert time.monotonic() < deadline, "the expired account was never dropped"
            time.sleep(0.2)
        with pytest.raises(MySQLdb.OperationalError):
            run(session, "SELECT 1")  # killed, not left running past its ttl
    finally:
        session.close()
    with pytest.raises(MySQLdb.OperationalError):
        direct(password, "feature")
