"""PlanetScale's public API v1, one method per documented endpoint the driver uses.

Branches (get, create), branch passwords (create, delete), branch schema (per keyspace),
keyspaces and keyspace VSchema (list, get, patch), deploy requests (list, create, get, deploy,
apply-deploy, cancel, skip-revert). Nothing else: no endpoint only an emulator has, and none the
driver does not call (a revert is a person's decision, made on PlanetScale).
Bound to one database and the apply the calls are made for.
"""

from __future__ import annotations

from typing import Any

from applies.engines.base import EngineError
from applies.engines.planetscale.transport import Transport, segment
from applies.engines.planetscale.types import (
    MAIN_BRANCH,
    Branch,
    BranchPassword,
    DeployRequest,
    SchemaTable,
    api_object,
)


class PlanetScaleClient:
    def __init__(self, transport: Transport, database: str, apply_identifier: str) -> None:
        self.transport = transport
        self.database = database
        self.apply_identifier = apply_identifier

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.transport.call(
            method, f"{segment(self.database)}/{path}", self.apply_identifier, **kwargs
        )

    # --- Branches -----------------------------------------------------------------------------

    def get_branch(self, branch: str) -> Branch:
        return Branch.from_api(self._call("GET", f"branches/{segment(branch)}"))

    def create_branch(self, branch: str, parent: str = MAIN_BRANCH) -> Branch:
        body = {"name": branch, "parent_branch": parent}
        return Branch.from_api(self._call("POST", "branches", json=body, retry=False))

    def create_password(self, branch: str, name: str, ttl_seconds: int) -> BranchPassword:
        body = {"name": name, "role": "admin", "ttl": ttl_seconds}
        path = f"branches/{segment(branch)}/passwords"
        return BranchPassword.from_api(self._call("POST", path, json=body, retry=False))

    def delete_password(self, branch: str, password_id: str) -> None:
        self._call("DELETE", f"branches/{segment(branch)}/passwords/{segment(password_id)}")

    # --- Schema -------------------------------------------------------------------------------

    def branch_schema(self, branch: str, keyspace: str) -> list[SchemaTable]:
        path = f"branches/{segment(branch)}/schema"
        body = api_object(self._call("GET", path, params={"keyspace": keyspace}), "schema")
        tables = body.get("data")
        if not isinstance(tables, list):
            raise EngineError(f"unexpected schema of branch {branch} in the response")
        return [
            SchemaTable(str(table.get("name") or ""), str(table.get("raw") or ""))
            for table in tables
            if isinstance(table, dict)
        ]

    def keyspaces(self, branch: str) -> list[str]:
        body = api_object(self._call("GET", f"branches/{segment(branch)}/keyspaces"), "list")
        items = body.get("data")
        if not isinstance(items, list):
            raise EngineError(f"unexpected keyspaces of branch {branch} in the response")
        return [str(item["name"]) for item in items if isinstance(item, dict) and "name" in item]

    def _vschema_path(self, branch: str, keyspace: str) -> str:
        return f"branches/{segment(branch)}/keyspaces/{segment(keyspace)}/vschema"

    def vschema(self, branch: str, keyspace: str) -> str:
        body = api_object(self._call("GET", self._vschema_path(branch, keyspace)), "vschema")
        return str(body.get("raw") or "")

    def update_vschema(self, branch: str, keyspace: str, vschema: str) -> None:
        # A PATCH overwrites the whole VSchema: repeating it after a lost answer is harmless.
        self._call("PATCH", self._vschema_path(branch, keyspace), json={"vschema": vschema})

    # --- Deploy requests ----------------------------------------------------------------------

    def get_deploy_request(self, number: int) -> DeployRequest:
        return DeployRequest.from_api(self._call("GET", f"deploy-requests/{number}"))

    def open_deploy_requests(self, branch: str) -> list[DeployRequest]:
        params = {"state": "open", "branch": branch, "into_branch": MAIN_BRANCH}
        body = api_object(self._call("GET", "deploy-requests", params=params), "list")
        items = body.get("data")
        if not isinstance(items, list):
            raise EngineError("unexpected deploy request list in the response")
        # Filtered here too: the filter is a request, and an older API may ignore it.
        return [
            dr
            for dr in map(DeployRequest.from_api, items)
            if dr.branch == branch and dr.into_branch == MAIN_BRANCH and dr.open
        ]

    def create_deploy_request(
        self, branch: str, *, auto_cutover: bool, auto_delete_branch: bool
    ) -> DeployRequest:
        body = {
            "branch": branch,
            "into_branch": MAIN_BRANCH,
            "auto_cutover": auto_cutover,
            "auto_delete_branch": auto_delete_branch,
        }
        return DeployRequest.from_api(self._call("POST", "deploy-requests", json=body, retry=False))

    def deploy(self, number: int, *, instant: bool) -> DeployRequest:
        return self._act(number, "deploy", {"instant_ddl": instant})

    def apply_deploy(self, number: int) -> DeployRequest:
        return self._act(number, "apply-deploy")

    def cancel(self, number: int) -> DeployRequest:
        return self._act(number, "cancel")

    def skip_revert(self, number: int) -> DeployRequest:
        return self._act(number, "skip-revert")

    def _act(self, number: int, action: str, body: dict[str, Any] | None = None) -> DeployRequest:
        # Not retried blindly: the caller re-reads the request and decides again.
        path = f"deploy-requests/{number}/{action}"
        return DeployRequest.from_api(self._call("POST", path, json=body, retry=False))
