"""LocalScale's JSON: the fields PlanetScale's API reference documents, and no others.

``tests/test_localscale_contract.py`` pins each shape to its reference page. Where the real
service says something the emulator cannot (regions, actors, replicas), it answers with a fixed,
plausible value of the documented type.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from localscale import ddl, machine
from localscale.branches import MAIN_BRANCH
from localscale.models import Branch, DeployRequest, Keyspace, Password
from localscale.store import TableChange

REGION = {"slug": "us-east", "display_name": "AWS us-east-1 (LocalScale)"}
ACTOR = {"id": "localscale", "display_name": "LocalScale", "avatar_url": ""}


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A list answer: one page holding everything."""
    return {
        "current_page": 1,
        "next_page": None,
        "next_page_url": None,
        "prev_page": None,
        "prev_page_url": None,
        "data": items,
    }


def _path(org: str, db: str) -> str:
    return f"{quote(org, safe='')}/{quote(db, safe='')}"


def branch_json(branch: Branch, base_url: str, mysql_address: str) -> dict[str, Any]:
    where = _path(branch.organization, branch.database_name)
    name = quote(branch.name, safe="")
    return {
        "id": str(branch.pk),
        "name": branch.name,
        "parent_branch": branch.parent_branch or None,
        "production": branch.name == MAIN_BRANCH,
        "safe_migrations": branch.name == MAIN_BRANCH,
        "ready": branch.ready,
        "schema_ready": branch.ready,
        "state": "ready" if branch.ready else "pending",
        "kind": "mysql",
        "sharded": False,
        "shard_count": 1,
        "mysql_address": mysql_address,
        "mysql_edge_address": mysql_address,
        "region": REGION,
        "actor": ACTOR,
        "created_at": timestamp(branch.created_at),
        "updated_at": timestamp(branch.ready_at if branch.ready else branch.created_at),
        "schema_last_updated_at": timestamp(branch.created_at),
        "html_url": f"{base_url}/{where}/branches/{name}",
        "url": f"{base_url}/v1/organizations/{where}/branches/{name}",
    }


def keyspace_json(keyspace: Keyspace) -> dict[str, Any]:
    return {
        "id": str(keyspace.pk),
        "name": keyspace.name,
        "shards": 1,
        "sharded": _sharded(keyspace.vschema),
        "replicas": 2,
        "extra_replicas": 0,
        "resizing": False,
        "resize_pending": False,
        "ready": True,
        "metal": False,
        "default": keyspace.name == keyspace.branch.database_name,
        "imported": False,
        "created_at": timestamp(keyspace.created_at),
        "updated_at": timestamp(keyspace.created_at),
    }


def _sharded(vschema: str) -> bool:
    try:
        return bool(json.loads(vschema).get("sharded")) if vschema.strip() else False
    except (ValueError, AttributeError):
        return False


def schema_json(tables: list[tuple[Keyspace, str, str]]) -> dict[str, Any]:
    return {
        "data": [
            {"name": name, "raw": text, "html": f"<pre>{html.escape(text)}</pre>"}
            for _, name, text in tables
        ]
    }


def vschema_json(keyspace: Keyspace) -> dict[str, Any]:
    return {"raw": keyspace.vschema}


def password_json(password: Password, access_host: str, secret: str | None) -> dict[str, Any]:
    """A branch password; ``plain_text`` only in the answer that created it."""
    now = datetime.now(UTC)
    expired = password.expires_at is not None and password.expires_at <= now
    body = {
        "id": password.public_id,
        "name": password.name,
        "role": password.role,
        "cidrs": None,
        "created_at": timestamp(password.created_at),
        "deleted_at": timestamp(password.deleted_at),
        "expires_at": timestamp(password.expires_at),
        "last_used_at": None,
        "expired": expired,
        "direct_vtgate": False,
        "direct_vtgate_addresses": [],
        "ttl_seconds": password.ttl_seconds,
        "access_host_url": access_host,
        "access_host_regional_url": access_host,
        "access_host_regional_urls": [access_host],
        "actor": ACTOR,
        "region": REGION,
        "username": password.username,
        "replica": False,
        "renewable": False,
        "database_branch": {
            "name": password.branch.name,
            "id": str(password.branch.pk),
            "production": password.branch.name == MAIN_BRANCH,
            "mysql_edge_address": access_host,
            "private_edge_connectivity": False,
        },
    }
    if secret is not None:
        body["plain_text"] = secret
    return body


def deploy_request_json(dr: DeployRequest, base_url: str) -> dict[str, Any]:
    where = _path(dr.organization, dr.database_name)
    closed = not machine.is_open(dr.state)
    return {
        "id": str(dr.pk),
        "number": dr.number,
        "actor": ACTOR,
        "closed_by": ACTOR if closed else None,
        "branch": dr.branch,
        "branch_id": dr.branch,
        "branch_deleted": False,
        "into_branch": dr.into_branch,
        "into_branch_sharded": False,
        "into_branch_shard_count": 1,
        "approved": True,
        "state": "closed" if closed else "open",
        "deployment_state": dr.state,
        "deployment": _deployment(dr),
        "num_comments": 0,
        "html_url": f"{base_url}/{where}/deploy-requests/{dr.number}",
        "notes": "",
        "html_body": "",
        "created_at": timestamp(dr.created_at),
        "updated_at": timestamp(dr.state_entered_at),
        "closed_at": timestamp(dr.state_entered_at) if closed else None,
        "deployed_at": timestamp(dr.deployed_at),
    }


def _deployment(dr: DeployRequest) -> dict[str, Any]:
    operations = [
        (name, TableChange.from_json(item)) for name, items in dr.diff.items() for item in items
    ]
    return {
        "id": f"{dr.pk}-deployment",
        "state": dr.state,
        "deployable": dr.state == machine.READY and not dr.deployed,
        "auto_cutover": dr.auto_cutover,
        "auto_delete_branch": dr.auto_delete_branch,
        "into_branch": dr.into_branch,
        "deploy_request_number": dr.number,
        "instant_ddl": dr.instant_ddl,
        "instant_ddl_eligible": ddl.instant_eligible(
            [(change.operation, change.old, change.new) for _, change in operations]
        ),
        "lint_errors": _lint_errors(dr),
        "deploy_check_errors": dr.error_message or None,
        "preceding_deployments": [],
        "deploy_operations": [
            _operation(dr, index, keyspace, change)
            for index, (keyspace, change) in enumerate(operations, start=1)
        ],
        "created_at": timestamp(dr.created_at),
        "updated_at": timestamp(dr.state_entered_at),
        "submitted_at": timestamp(dr.deployed_at),
        "queued_at": timestamp(dr.deployed_at),
        "started_at": timestamp(dr.deployed_at),
        "finished_at": timestamp(dr.state_entered_at) if not machine.is_open(dr.state) else None,
    }


def _operation(dr: DeployRequest, index: int, keyspace: str, change: TableChange) -> dict[str, Any]:
    done = dr.state in {machine.COMPLETE_PENDING_REVERT, machine.COMPLETE}
    statement = ddl.change_statement(change.table, change.operation, change.old, change.new)
    return {
        "id": f"{dr.pk}-{index}",
        "state": "complete" if done else "pending",
        "keyspace_name": keyspace,
        "table_name": change.table,
        "operation_name": change.operation,
        "ddl_statement": statement,
        "syntax_highlighted_ddl": f"<pre>{html.escape(statement)}</pre>",
        "eta_seconds": 0,
        "progress_percentage": 100 if done else 0,
        "can_drop_data": change.operation == "drop",
        "table_locked": False,
        "created_at": timestamp(dr.created_at),
        "updated_at": timestamp(dr.state_entered_at),
    }


def _lint_errors(dr: DeployRequest) -> list[dict[str, Any]]:
    if dr.state != machine.ERROR or not dr.forced_error:
        return []
    return [
        {
            "lint_error": "localscale_forced_error",
            "subject_type": "table",
            "keyspace_name": next(iter(dr.diff), ""),
            "table_name": "",
            "error_description": dr.forced_error,
            "docs_url": "",
        }
    ]
