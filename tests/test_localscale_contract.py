"""The contract: every emulator answer a PlanetScale client reads, pinned to the public API's
documented fields and types (PlanetScale API v1 reference, one table per endpoint, each citing
its page). An answer must carry every field of its table, with the documented type, and no
field the reference does not document: the emulator may simplify values, never invent shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from localscale import machine
from localscale.testing import LocalScaleAdmin
from tests.localscale_fixtures import (
    DATABASE,
    Api,
    admin_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    branch_server_fixture,  # noqa: F401
    localscale_fixture,  # noqa: F401
    login,
    run,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])

STR, INT, BOOL, LIST, OBJ = str, int, bool, list, dict
NULL = type(None)
Shape = Mapping[str, Any]

REFERENCE = "https://planetscale.com/docs/api/reference/"

# Paginated list answers (list_branches, list_passwords, list_keyspaces, list_deploy_requests).
PAGE: Shape = {
    "current_page": INT,
    "next_page": (INT, NULL),
    "next_page_url": (STR, NULL),
    "prev_page": (INT, NULL),
    "prev_page_url": (STR, NULL),
    "data": LIST,
}

REGION: Shape = {"slug": STR, "display_name": STR}
ACTOR: Shape = {"id": STR, "display_name": STR, "avatar_url": STR}

# get_branch / create_branch / list_branches items: REFERENCE + "get_branch"
BRANCH: Shape = {
    "id": STR,
    "name": STR,
    "parent_branch": (STR, NULL),
    "production": BOOL,
    "safe_migrations": BOOL,
    "ready": BOOL,
    "schema_ready": BOOL,
    "state": STR,
    "kind": STR,
    "sharded": BOOL,
    "shard_count": INT,
    "mysql_address": STR,
    "mysql_edge_address": STR,
    "region": REGION,
    "actor": ACTOR,
    "created_at": STR,
    "updated_at": STR,
    "schema_last_updated_at": (STR, NULL),
    "html_url": STR,
    "url": STR,
}

# create_password / list_passwords items: REFERENCE + "create_password" (plain_text only on
# create).
PASSWORD_BRANCH: Shape = {
    "name": STR,
    "id": STR,
    "production": BOOL,
    "mysql_edge_address": STR,
    "private_edge_connectivity": BOOL,
}
PASSWORD: Shape = {
    "id": STR,
    "name": STR,
    "role": STR,
    "cidrs": (LIST, NULL),
    "created_at": STR,
    "deleted_at": (STR, NULL),
    "expires_at": (STR, NULL),
    "last_used_at": (STR, NULL),
    "expired": BOOL,
    "direct_vtgate": BOOL,
    "direct_vtgate_addresses": LIST,
    "ttl_seconds": INT,
    "access_host_url": STR,
    "access_host_regional_url": STR,
    "access_host_regional_urls": LIST,
    "actor": ACTOR,
    "region": REGION,
    "username": STR,
    "plain_text": STR,
    "replica": BOOL,
    "renewable": BOOL,
    "database_branch": PASSWORD_BRANCH,
}
LISTED_PASSWORD: Shape = {key: kind for key, kind in PASSWORD.items() if key != "plain_text"}

# get_branch_schema (?keyspace=): REFERENCE + "get_branch_schema"
SCHEMA_TABLE: Shape = {"name": STR, "raw": STR, "html": STR}

# list_keyspaces / get_keyspace: REFERENCE + "get_keyspace"
KEYSPACE: Shape = {
    "id": STR,
    "name": STR,
    "shards": INT,
    "sharded": BOOL,
    "replicas": INT,
    "extra_replicas": INT,
    "resizing": BOOL,
    "resize_pending": BOOL,
    "ready": BOOL,
    "metal": BOOL,
    "default": BOOL,
    "imported": BOOL,
    "created_at": STR,
    "updated_at": STR,
}

# get_keyspace_vschema / update_keyspace_vschema: REFERENCE + "update_keyspace_vschema"
VSCHEMA: Shape = {"raw": STR}

# Deploy requests: REFERENCE + "get_deploy_request" (and create_deploy_request,
# list_deploy_requests, queue_deploy_request, apply_deploy_request, cancel_deploy_request,
# complete_revert, skip_revert_period: all answer a deploy request).
DEPLOY_OPERATION: Shape = {
    "id": STR,
    "state": STR,
    "keyspace_name": STR,
    "table_name": STR,
    "operation_name": STR,
    "ddl_statement": STR,
    "syntax_highlighted_ddl": STR,
    "eta_seconds": INT,
    "progress_percentage": INT,
    "can_drop_data": BOOL,
    "table_locked": BOOL,
    "created_at": STR,
    "updated_at": STR,
}
LINT_ERROR: Shape = {
    "lint_error": STR,
    "subject_type": STR,
    "keyspace_name": STR,
    "table_name": STR,
    "error_description": STR,
    "docs_url": STR,
}
DEPLOYMENT: Shape = {
    "id": STR,
    "state": STR,
    "deployable": BOOL,
    "auto_cutover": BOOL,
    "auto_delete_branch": BOOL,
    "into_branch": STR,
    "deploy_request_number": INT,
    "instant_ddl": BOOL,
    "instant_ddl_eligible": BOOL,
    "lint_errors": LIST,
    "deploy_check_errors": (STR, NULL),
    "preceding_deployments": LIST,
    "deploy_operations": LIST,
    "created_at": STR,
    "updated_at": STR,
    "submitted_at": (STR, NULL),
    "queued_at": (STR, NULL),
    "started_at": (STR, NULL),
    "finished_at": (STR, NULL),
}
DEPLOY_REQUEST: Shape = {
    "id": STR,
    "number": INT,
    "actor": ACTOR,
    "closed_by": (ACTOR, NULL),
    "branch": STR,
    "branch_id": STR,
    "branch_deleted": BOOL,
    "into_branch": STR,
    "into_branch_sharded": BOOL,
    "into_branch_shard_count": INT,
    "approved": BOOL,
    "state": STR,
    "deployment_state": STR,
    "deployment": DEPLOYMENT,
    "num_comments": INT,
    "html_url": STR,
    "notes": STR,
    "html_body": STR,
    "created_at": STR,
    "updated_at": STR,
    "closed_at": (STR, NULL),
    "deployed_at": (STR, NULL),
}

# The documented deployment_state enum (get_deploy_request).
DEPLOYMENT_STATES = {
    "pending",
    "ready",
    "no_changes",
    "queued",
    "submitting",
    "in_progress",
    "pending_cutover",
    "in_progress_vschema",
    "in_progress_cancel",
    "in_progress_cutover",
    "complete",
    "complete_cancel",
    "complete_error",
    "complete_pending_revert",
    "in_progress_revert",
    "in_progress_revert_vschema",
    "complete_revert",
    "complete_revert_error",
    "cancelled",
    "error",
}

# The error body every 4xx/5xx carries.
ERROR: Shape = {"code": STR, "message": STR}


def check(shape: Shape, body: Any, where: str = "answer") -> None:
    assert isinstance(body, dict), f"{where}: not an object"
    assert set(body) == set(shape), (
        f"{where}: undocumented {sorted(set(body) - set(shape))}, "
        f"missing {sorted(set(shape) - set(body))}"
    )
    for key, kind in shape.items():
        value = body[key]
        if isinstance(kind, Mapping):
            check(kind, value, f"{where}.{key}")
        elif isinstance(kind, tuple) and isinstance(kind[0], Mapping):
            if value is not None:
                check(kind[0], value, f"{where}.{key}")
        else:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            assert isinstance(value, kinds), f"{where}.{key}: {value!r} is not {kinds}"
            assert not (isinstance(value, bool) and bool not in kinds), f"{where}.{key}: a bool"


def check_page(item: Shape, body: Any, where: str) -> None:
    check(PAGE, body, where)
    for index, entry in enumerate(body["data"]):
        check(item, entry, f"{where}.data[{index}]")


def check_deploy_request(body: Any, where: str) -> None:
    check(DEPLOY_REQUEST, body, where)
    assert body["state"] in {"open", "closed"}
    assert body["deployment_state"] in DEPLOYMENT_STATES
    for index, operation in enumerate(body["deployment"]["deploy_operations"]):
        check(DEPLOY_OPERATION, operation, f"{where}.deploy_operations[{index}]")
    for index, lint in enumerate(body["deployment"]["lint_errors"]):
        check(LINT_ERROR, lint, f"{where}.lint_errors[{index}]")


def test_the_emulators_states_are_documented_states() -> None:
    states = {
        value for name, value in vars(machine).items() if name.isupper() and isinstance(value, str)
    }
    assert states <= DEPLOYMENT_STATES


def test_branch_password_keyspace_and_schema_answers(api: Api) -> None:
    check(BRANCH, api.ok("POST", "branches", json={"name": "other"}), "create_branch")
    api.branch("feature")
    check(BRANCH, api.ok("GET", "branches/feature"), "get_branch")
    check_page(BRANCH, api.ok("GET", "branches"), "list_branches")

    password = api.password("feature", ttl=300)
    check(PASSWORD, password, "create_password")
    check_page(LISTED_PASSWORD, api.ok("GET", "branches/feature/passwords"), "list_passwords")

    check_page(KEYSPACE, api.ok("GET", "branches/feature/keyspaces"), "list_keyspaces")
    check(KEYSPACE, api.ok("GET", f"branches/feature/keyspaces/{DATABASE}"), "get_keyspace")
    vschema = f"branches/feature/keyspaces/{DATABASE}/vschema"
    check(VSCHEMA, api.ok("GET", vschema), "get_keyspace_vschema")
    check(VSCHEMA, api.ok("PATCH", vschema, json={"vschema": "{}"}), "update_keyspace_vschema")

    schema = api.ok("GET", f"branches/feature/schema?keyspace={DATABASE}")
    assert set(schema) == {"data"}
    for index, table in enumerate(schema["data"]):
        check(SCHEMA_TABLE, table, f"get_branch_schema.data[{index}]")

    deleted = api.call("DELETE", f"branches/feature/passwords/{password['id']}")
    assert deleted.status_code == 204 and not deleted.content  # delete_password: no body


def test_deploy_request_answers_through_a_whole_deploy(api: Api, admin: LocalScaleAdmin) -> None:
    api.branch("feature")
    with login(api.password("feature")) as connection:
        run(connection, "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY)")
    created = api.deploy_request("feature", auto_cutover=False)
    check_deploy_request(created, "create_deploy_request")
    number = created["number"]
    check_deploy_request(api.wait(number, "ready"), "get_deploy_request")
    listed = api.ok("GET", "deploy-requests", params={"state": "open", "branch": "feature"})
    check(PAGE, listed, "list_deploy_requests")
    for item in listed["data"]:
        check_deploy_request(item, "list_deploy_requests.data")
    check_deploy_request(api.ok("POST", f"deploy-requests/{number}/deploy"), "queue_deploy_request")
    api.wait(number, "pending_cutover")
    applied = api.ok("POST", f"deploy-requests/{number}/apply-deploy")
    check_deploy_request(applied, "apply_deploy_request")
    api.wait(number, "complete_pending_revert")
    check_deploy_request(api.ok("POST", f"deploy-requests/{number}/revert"), "complete_revert")
    api.wait(number, "complete_revert")  # main is back: the branch has a change again

    again = api.deploy_request("feature")
    api.wait(again["number"], "ready")
    api.ok("POST", f"deploy-requests/{again['number']}/deploy")
    api.wait(again["number"], "complete_pending_revert")
    skipped = api.ok("POST", f"deploy-requests/{again['number']}/skip-revert")
    check_deploy_request(skipped, "skip_revert_period")

    admin.add_fault(method="POST", path="/deploy-requests$", effect="deploy_request_error")
    failed = api.wait(api.deploy_request("feature")["number"], "error")
    check_deploy_request(failed, "get_deploy_request (error)")
    assert failed["deployment"]["lint_errors"]

    cancelled = api.ok("POST", f"deploy-requests/{api.deploy_request('feature')['number']}/cancel")
    check_deploy_request(cancelled, "cancel_deploy_request")


def test_errors_carry_code_and_message(api: Api) -> None:
    for method, path in (("GET", "branches/nope"), ("GET", "deploy-requests/404")):
        answer = api.call(method, path)
        assert answer.status_code == 404
        check(ERROR, answer.json(), f"{method} {path}")
    taken = api.call("POST", "branches", json={"name": "main"})
    assert taken.status_code == 409
    check(ERROR, taken.json(), "create_branch (taken)")
