"""LocalScale's JSON, shaped like PlanetScale's: ``state`` is open/closed, ``deployment_state``
the deploy-request state machine, list answers wrap their items in ``data``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from applies.engines.base import DeployRequestState, is_open
from localscale.machine import lint_errors
from localscale.models import Branch, DeployRequest


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def branch_json(branch: Branch, base_url: str) -> dict[str, Any]:
    return {
        "id": str(branch.pk),
        "type": "Branch",
        "name": branch.name,
        "parent_branch": branch.parent_branch or None,
        "production": branch.name == "main",
        "ready": branch.ready,
        "ready_at": timestamp(branch.ready_at),
        "created_at": timestamp(branch.created_at),
        "html_url": f"{base_url}/{_path(branch.organization, branch.database_name)}"
        f"/branches/{quote(branch.name, safe='')}",
    }


def schema_json(branch: Branch) -> dict[str, Any]:
    return {"data": [{"name": _object_name(stmt), "raw": stmt} for stmt in branch.statements]}


def deploy_request_json(dr: DeployRequest, base_url: str) -> dict[str, Any]:
    where = _path(dr.organization, dr.database_name)
    return {
        "id": str(dr.pk),
        "type": "DeployRequest",
        "number": dr.number,
        "branch": dr.branch,
        "into_branch": dr.into_branch,
        "state": "open" if is_open(dr.state) else "closed",
        "deployment_state": dr.state,
        "deployed": dr.deployed,
        "deployed_at": timestamp(dr.deployed_at),
        "approved": True,
        "auto_cutover": dr.auto_cutover,
        "auto_delete_branch": dr.auto_delete_branch,
        "cutover_requested": dr.cutover_requested,
        "cancelled": dr.cancelled,
        "reverted": dr.reverted,
        "revert_skipped": dr.revert_skipped,
        "created_at": timestamp(dr.created_at),
        "url": f"{base_url}/v1/organizations/{quote(dr.organization, safe='')}/databases/"
        f"{quote(dr.database_name, safe='')}/deploy-requests/{dr.number}",
        "html_url": f"{base_url}/{where}/deploy-requests/{dr.number}",
        "deployment": _deployment(dr),
    }


def _deployment(dr: DeployRequest) -> dict[str, Any]:
    return {
        "state": dr.state,
        "deployable": dr.state == DeployRequestState.READY and not dr.deployed,
        "auto_cutover": dr.auto_cutover,
        "instant_ddl": dr.instant_ddl,
        "instant_ddl_eligible": _instant_eligible(dr.statements),
        "lint_errors": lint_errors(dr.statements),
        "deploy_operations": [{"ddl_statement": statement} for statement in dr.statements],
    }


def _instant_eligible(statements: list[str]) -> bool:
    # MySQL's instant DDL covers adding columns and new tables; the emulator says no otherwise.
    def instant(statement: str) -> bool:
        text = " ".join(statement.upper().split())
        return text.startswith("CREATE TABLE") or (
            text.startswith("ALTER TABLE") and "ADD COLUMN" in text and "," not in text
        )

    return bool(statements) and all(instant(statement) for statement in statements)


_TABLE_NAME = re.compile(r"\bTABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?`?([\w$]+)`?", re.IGNORECASE)


def _object_name(statement: str) -> str:
    found = _TABLE_NAME.search(statement)
    return found.group(1) if found else ""


def _path(org: str, db: str) -> str:
    return f"{quote(org, safe='')}/{quote(db, safe='')}"
