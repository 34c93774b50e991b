"""LocalScale over real HTTP and real MySQL-protocol connections, on its schema-only model.

A client's whole path: a branch, a branch password, DDL over a MySQL connection (mysqlclient and
PyMySQL), the schema read back through the API, a deploy request whose diff comes from the two
schemas, the deploy changing main, revert, skip-revert, cancel. ``test_localscale_mariadb.py``
runs the same path on real databases.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
import MySQLdb
import pymysql
import pytest

from localscale.models import Branch, Fault, Password, SchemaTable
from localscale.testing import AUTHORIZATION, TEST_ORGANIZATION, LocalScaleAdmin
from tests.localscale_fixtures import (
    DATABASE,
    VSCHEMA,
    Api,
    admin_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    branch_server_fixture,  # noqa: F401
    expire,
    localscale_fixture,  # noqa: F401
    login,
    run,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])

ORDERS = "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY)"
NICKNAME = "ALTER TABLE users ADD COLUMN nickname varchar(64)"


# --- Branches and branch connections ----------------------------------------------------------


def test_a_branch_starts_with_mains_schema_and_vschema(api: Api) -> None:
    api.branch("feature")
    assert api.tables("feature") == api.tables("main")
    assert set(api.tables("main")) == {"users"}
    assert api.ok("GET", f"branches/feature/keyspaces/{DATABASE}/vschema")["raw"] == VSCHEMA


def test_ddl_over_mysql_with_a_branch_password_shows_in_the_schema_api(api: Api) -> None:
    api.branch("feature")
    password = api.password("feature", ttl=600)
    with login(password) as connection:
        run(connection, NICKNAME, ORDERS)
        assert run(connection, "SHOW TABLES") == [("orders",), ("users",)]
        (name, ddl), *_ = run(connection, "SHOW CREATE TABLE users")
    assert name == "users" and "nickname" in ddl.lower()
    tables = api.tables("feature", keyspace=DATABASE)
    assert set(tables) == {"orders", "users"} and tables["users"] == ddl
    assert set(api.tables("main")) == {"users"}  # main is untouched until a deploy


def test_information_schema_lists_the_branchs_tables_and_columns(api: Api) -> None:
    api.branch("feature")
    with login(api.password("feature")) as connection:
        run(connection, ORDERS)
        tables = run(
            connection,
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{DATABASE}' ORDER BY table_name",
        )
        columns = run(
            connection,
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{DATABASE}' AND table_name = 'users' ORDER BY column_name",
        )
    assert tables == [("orders",), ("users",)]
    assert columns == [("id",), ("name",)]


def test_pymysql_speaks_to_the_endpoint_too(api: Api) -> None:
    api.branch("feature")
    password = api.password("feature")
    host, port = password["access_host_url"].rsplit(":", 1)
    connection = pymysql.connect(
        host=host, port=int(port), user=password["username"], password=password["plain_text"]
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"USE {DATABASE}")
            cursor.execute(ORDERS)
            cursor.execute("SHOW TABLES")
            assert cursor.fetchall() == (("orders",), ("users",))
    finally:
        connection.close()


def test_mysql_errors_are_the_servers_own(api: Api) -> None:
    api.branch("feature")
    with login(api.password("feature")) as connection:
        with pytest.raises(MySQLdb.OperationalError) as exists:
            run(connection, "CREATE TABLE users (id int)")
        assert exists.value.args[0] == 1050
        with pytest.raises(MySQLdb.OperationalError) as duplicate:
            run(connection, "ALTER TABLE users ADD COLUMN name int")
        assert duplicate.value.args[0] == 1060
    assert api.tables("feature") == api.tables("main")  # a failed statement changed nothing


def test_a_wrong_password_or_another_keyspace_is_refused(api: Api) -> None:
    api.branch("feature")
    password = api.password("feature")
    with pytest.raises(MySQLdb.OperationalError) as denied:
        login({**password, "plain_text": "not-it"})
    assert denied.value.args[0] == 1045
    with pytest.raises(MySQLdb.OperationalError, match="Unknown database 'other_keyspace'"):
        login(password, database="other_keyspace")


def test_production_refuses_direct_ddl(api: Api) -> None:
    with login(api.password("main")) as connection, pytest.raises(MySQLdb.DatabaseError) as no:
        run(connection, ORDERS)
    assert no.value.args[0] == 1235 and "deploy request" in no.value.args[1]
    assert set(api.tables("main")) == {"users"}


def test_a_deleted_password_no_longer_logs_in(api: Api, admin: LocalScaleAdmin) -> None:
    api.branch("feature")
    password = api.password("feature", ttl=600)
    listed = api.ok("GET", "branches/feature/passwords")["data"]
    assert [item["id"] for item in listed] == [password["id"]]
    assert "plain_text" not in listed[0]  # the secret is shown once, at creation
    assert admin.stats()[""]["live_passwords"] == 1
    assert api.call("DELETE", f"branches/feature/passwords/{password['id']}").status_code == 204
    with pytest.raises(MySQLdb.OperationalError):
        login(password)
    assert api.call("DELETE", f"branches/feature/passwords/{password['id']}").status_code == 404
    assert admin.stats()[""]["live_passwords"] == 0


def test_an_expired_password_stops_working_even_mid_session(api: Api) -> None:
    api.branch("feature")
    password = api.password("feature", ttl=600)
    connection = login(password)
    try:
        run(connection, ORDERS)
        expire(password)
        with pytest.raises(MySQLdb.OperationalError) as expired:
            run(connection, "SHOW TABLES")
        assert expired.value.args[0] == 1045
    finally:
        connection.close()
    with pytest.raises(MySQLdb.OperationalError):
        login(password)
    deadline = time.monotonic() + 10  # the reaper retires it without any API call
    while Password.objects.get(username=password["username"]).deleted_at is None:
        assert time.monotonic() < deadline, "the reaper never retired the expired password"
        time.sleep(0.1)


def test_password_arguments_are_checked(api: Api) -> None:
    for body in ({"role": "root"}, {"ttl": -1}, {"ttl": "60"}, {"name": "a b"}):
        answer = api.call("POST", "branches/main/passwords", json=body)
        assert answer.status_code == 422, body
    assert not Password.objects.exists()


# --- Keyspaces and VSchema ---------------------------------------------------------------------


def test_keyspaces_and_a_seeded_second_keyspace(api: Api, admin: LocalScaleAdmin) -> None:
    admin.seed(TEST_ORGANIZATION, DATABASE, {"billing": {"tables": [ORDERS]}})
    names = [keyspace["name"] for keyspace in api.ok("GET", "branches/main/keyspaces")["data"]]
    assert names == ["billing", DATABASE]
    assert api.ok("GET", "branches/main/keyspaces/billing")["name"] == "billing"
    assert set(api.tables("main", keyspace="billing")) == {"orders"}
    assert set(api.tables("main")) == {"orders", "users"}
    assert api.call("GET", "branches/main/keyspaces/nope").status_code == 404


def test_vschema_is_patched_per_branch_and_checked(api: Api) -> None:
    api.branch("feature")
    sharded = '{"sharded": true, "tables": {}}'
    path = f"branches/feature/keyspaces/{DATABASE}/vschema"
    assert api.ok("PATCH", path, json={"vschema": sharded}) == {"raw": sharded}
    assert api.ok("GET", path)["raw"] == sharded
    assert api.ok("GET", f"branches/main/keyspaces/{DATABASE}/vschema")["raw"] == VSCHEMA
    assert api.call("PATCH", path, json={"vschema": "{not json"}).status_code == 422
    main = api.call("PATCH", f"branches/main/keyspaces/{DATABASE}/vschema", json={"vschema": "{}"})
    assert main.status_code == 422


# --- Deploy requests ---------------------------------------------------------------------------


def prepared(api: Api, branch: str = "feature") -> dict[str, str]:
    api.branch(branch)
    with login(api.password(branch)) as connection:
        run(connection, NICKNAME, ORDERS)
    return api.tables(branch)


def test_the_diff_comes_from_the_two_schemas_and_deploy_changes_main(
    api: Api, admin: LocalScaleAdmin
) -> None:
    branch_tables = prepared(api)
    dr = api.deploy_request("feature", auto_delete_branch=True)
    operations = {
        (op["table_name"], op["operation_name"]) for op in dr["deployment"]["deploy_operations"]
    }
    assert operations == {("orders", "create"), ("users", "alter")}
    alter = next(op for op in dr["deployment"]["deploy_operations"] if op["table_name"] == "users")
    assert alter["ddl_statement"].startswith("ALTER TABLE `users` ADD COLUMN nickname")
    assert api.wait(dr["number"], "ready")["deployment_state"] == "ready"
    api.ok("POST", f"deploy-requests/{dr['number']}/deploy", json={"instant_ddl": False})
    api.wait(dr["number"], "complete_pending_revert")
    assert api.tables("main") == branch_tables
    done = api.wait(dr["number"], "complete")  # 30 minutes of revert window: 1.8 s at 1000×
    assert done["state"] == "closed"
    assert not Branch.objects.filter(name="feature").exists()  # auto_delete_branch
    counts = admin.stats()[""]
    assert (counts["branches_created"], counts["deploy_requests_created"], counts["deploys"]) == (
        1,
        1,
        1,
    )


def test_revert_restores_main_and_skip_revert_keeps_the_change(api: Api) -> None:
    before = api.tables("main")
    after = prepared(api)
    reverted = api.deploy_request("feature", auto_cutover=False)
    api.wait(reverted["number"], "ready")
    api.ok("POST", f"deploy-requests/{reverted['number']}/deploy")
    api.wait(reverted["number"], "pending_cutover")
    assert api.tables("main") == before  # waits for the cutover
    api.ok("POST", f"deploy-requests/{reverted['number']}/apply-deploy")
    api.wait(reverted["number"], "complete_pending_revert")
    assert api.tables("main") == after
    api.ok("POST", f"deploy-requests/{reverted['number']}/revert")
    assert api.wait(reverted["number"], "complete_revert")["state"] == "closed"
    assert api.tables("main") == before

    kept = api.deploy_request("feature")  # the branch still holds the change
    api.wait(kept["number"], "ready")
    api.ok("POST", f"deploy-requests/{kept['number']}/deploy")
    api.wait(kept["number"], "complete_pending_revert")
    skipped = api.ok("POST", f"deploy-requests/{kept['number']}/skip-revert")
    assert skipped["deployment_state"] == "complete"
    assert api.tables("main") == after


def test_an_unchanged_branch_has_no_changes(api: Api) -> None:
    api.branch("feature")
    dr = api.deploy_request("feature")
    assert api.wait(dr["number"], "no_changes")["deployment_state"] == "no_changes"
    refused = api.call("POST", f"deploy-requests/{dr['number']}/deploy")
    assert refused.status_code == 422


def test_a_vschema_only_change_deploys(api: Api) -> None:
    api.branch("feature")
    sharded = '{"sharded": true}'
    api.ok("PATCH", f"branches/feature/keyspaces/{DATABASE}/vschema", json={"vschema": sharded})
    dr = api.deploy_request("feature")
    api.wait(dr["number"], "ready")
    api.ok("POST", f"deploy-requests/{dr['number']}/deploy")
    api.wait(dr["number"], "complete_pending_revert")
    assert api.ok("GET", f"branches/main/keyspaces/{DATABASE}/vschema")["raw"] == sharded


def test_a_fault_rule_makes_the_next_deploy_request_fail_once(
    api: Api, admin: LocalScaleAdmin
) -> None:
    prepared(api)
    admin.add_fault(method="POST", path="/deploy-requests$", effect="deploy_request_error")
    failed = api.wait(api.deploy_request("feature")["number"], "error")
    assert failed["deployment_state"] == "error" and failed["state"] == "closed"
    assert failed["deployment"]["lint_errors"][0]["lint_error"] == "localscale_forced_error"
    again = api.wait(api.deploy_request("feature")["number"], "ready")
    assert again["deployment_state"] == "ready"


def test_deploy_waits_for_validation_and_happens_once(api: Api, admin: LocalScaleAdmin) -> None:
    prepared(api)
    admin.freeze()
    number = api.deploy_request("feature")["number"]
    pending = api.call("POST", f"deploy-requests/{number}/deploy")
    assert pending.status_code == 409 and "validated" in pending.json()["message"]
    admin.advance(2)
    assert api.call("POST", f"deploy-requests/{number}/deploy").status_code == 200
    twice = api.call("POST", f"deploy-requests/{number}/deploy")
    assert twice.status_code == 409 and "already been deployed" in twice.json()["message"]


def test_only_one_deploy_in_flight_per_database(api: Api, admin: LocalScaleAdmin) -> None:
    prepared(api, "first")
    prepared(api, "second")
    admin.freeze()
    numbers = [api.deploy_request(name)["number"] for name in ("first", "second")]
    admin.advance(2)
    api.ok("POST", f"deploy-requests/{numbers[0]}/deploy")
    busy = api.call("POST", f"deploy-requests/{numbers[1]}/deploy")
    assert busy.status_code == 409 and "Another deploy" in busy.json()["message"]
    admin.advance(5)  # the first is in its revert window now: the database is free
    assert api.call("POST", f"deploy-requests/{numbers[1]}/deploy").status_code == 200


def test_cancel_closes_an_undeployed_request(api: Api) -> None:
    prepared(api)
    dr = api.deploy_request("feature")
    api.wait(dr["number"], "ready")
    cancelled = api.ok("POST", f"deploy-requests/{dr['number']}/cancel")
    assert (cancelled["deployment_state"], cancelled["state"]) == ("complete_cancel", "closed")
    assert api.call("POST", f"deploy-requests/{dr['number']}/cancel").status_code == 409


def test_the_list_filters_by_state_and_branch(api: Api) -> None:
    prepared(api, "first")
    prepared(api, "second")
    first = api.deploy_request("first")
    api.deploy_request("second")
    api.ok("POST", f"deploy-requests/{first['number']}/cancel")
    listed = api.ok("GET", "deploy-requests", params={"state": "open", "branch": "second"})
    assert [(dr["branch"], dr["state"]) for dr in listed["data"]] == [("second", "open")]
    closed = api.ok("GET", "deploy-requests", params={"state": "closed"})["data"]
    assert [dr["number"] for dr in closed] == [first["number"]]
    assert api.call("GET", "deploy-requests", params={"state": "weird"}).status_code == 422


def test_the_clock_moves_deploy_requests_when_they_are_read(
    api: Api, admin: LocalScaleAdmin
) -> None:
    prepared(api)
    admin.freeze()
    number = api.deploy_request("feature")["number"]
    admin.advance(1.9)
    assert api.ok("GET", f"deploy-requests/{number}")["deployment_state"] == "pending"
    admin.advance(0.2)
    assert api.ok("GET", f"deploy-requests/{number}")["deployment_state"] == "ready"
    api.ok("POST", f"deploy-requests/{number}/deploy")
    # Several transitions come due at once: each is applied at the time it was due.
    admin.advance(4 + 30 * 60)
    assert api.ok("GET", f"deploy-requests/{number}")["deployment_state"] == "complete"


# --- The emulator's own rules ------------------------------------------------------------------


def test_a_taken_branch_name_is_a_conflict(api: Api) -> None:
    api.branch("feature")
    taken = api.call("POST", "branches", json={"name": "feature"})
    assert taken.status_code == 409
    assert taken.json() == {"code": "conflict", "message": "Name has already been taken"}


def test_a_frozen_clock_moves_only_when_told(admin: LocalScaleAdmin) -> None:
    admin.freeze()
    frozen = admin.clock()
    time.sleep(0.05)
    assert admin.clock() == frozen and frozen["frozen"] and frozen["time_scale"] == 1.0
    admin.advance(60)
    moved = datetime.fromisoformat(admin.clock()["now"])
    assert moved - datetime.fromisoformat(frozen["now"]) == timedelta(seconds=60)
    admin.unfreeze()  # real time passes again, from where the clock stood: no jump
    running = admin.clock()
    assert not running["frozen"]
    assert timedelta(0) <= datetime.fromisoformat(running["now"]) - moved < timedelta(seconds=5)


def test_every_endpoint_wants_authorization(localscale: str) -> None:
    for path in ("health", "admin/stats", f"v1/organizations/o/databases/{DATABASE}/branches"):
        response = httpx.get(f"{localscale}/{path}")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
    bad = httpx.get(f"{localscale}/health", headers={"Authorization": "no-colon"})
    assert bad.status_code == 401
    assert httpx.get(f"{localscale}/health", headers=AUTHORIZATION).json()["status"] == "ok"


def test_what_is_not_emulated_says_so(api: Api, localscale: str) -> None:
    assert api.call("POST", "branches/main/schema", json={"statements": []}).status_code == 405
    assert api.call("GET", "branches/main/diff").status_code == 501
    assert api.call("DELETE", "branches/main").status_code == 405
    missing = httpx.get(f"{localscale}/nothing", headers=AUTHORIZATION)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert api.call("GET", "deploy-requests/99").status_code == 404


def test_calls_are_logged_with_the_apply_that_made_them(api: Api, admin: LocalScaleAdmin) -> None:
    headers = {"X-Ternadmin-Apply": "apply-7"}
    api.call("GET", "branches/nope", headers=headers)
    api.call("POST", "branches", json={"name": "b7"}, headers=headers)
    calls = admin.calls("apply-7")
    assert [(c["method"], c["kind"], c["status"]) for c in calls] == [
        ("GET", "read", 404),
        ("POST", "branch_created", 201),
    ]


def test_faults_live_in_the_database_and_reset_forgets_everything(
    api: Api, admin: LocalScaleAdmin
) -> None:
    rule = admin.add_fault(method="get", path="/branches/", status=500, count=2)
    assert Fault.objects.get(pk=rule["id"]).remaining == 2  # so other processes see it
    assert api.call("GET", "branches/main").status_code == 500
    assert api.call("GET", "branches/main").status_code == 500
    assert api.call("GET", "branches/main").status_code == 200
    prepared(api)
    admin.reset()
    assert admin.stats() == {} and admin.faults() == []
    assert not Branch.objects.exists() and not SchemaTable.objects.exists()
    assert not Password.objects.exists()
