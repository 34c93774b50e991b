"""PlanetScale's API objects as the driver reads them (public API v1, documented fields only).

Deploy-request states and their mapping to apply states follow upstream
pkg/engine/planetscale/planetscale.go (``deployStateToEngineState``); the branch name follows
upstream ``generateBranchName`` so that every resume finds the same branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from applies.engines.base import EngineError
from applies.states import ApplyState

MAIN_BRANCH = "main"


class DeployRequestState(StrEnum):
    """A deploy request's ``deployment_state``."""

    PENDING = "pending"
    READY = "ready"
    NO_CHANGES = "no_changes"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    PENDING_CUTOVER = "pending_cutover"
    IN_PROGRESS_CUTOVER = "in_progress_cutover"
    IN_PROGRESS_VSCHEMA = "in_progress_vschema"
    COMPLETE_PENDING_REVERT = "complete_pending_revert"
    COMPLETE = "complete"
    COMPLETE_ERROR = "complete_error"
    IN_PROGRESS_CANCEL = "in_progress_cancel"
    COMPLETE_CANCEL = "complete_cancel"
    IN_PROGRESS_REVERT = "in_progress_revert"
    IN_PROGRESS_REVERT_VSCHEMA = "in_progress_revert_vschema"
    COMPLETE_REVERT = "complete_revert"
    COMPLETE_REVERT_ERROR = "complete_revert_error"
    CANCELLED = "cancelled"
    ERROR = "error"
    FAILED = "failed"


_DR = DeployRequestState
_ENGINE_STATE: Mapping[str, ApplyState] = {
    _DR.PENDING: ApplyState.PENDING,
    _DR.READY: ApplyState.PENDING,
    _DR.NO_CHANGES: ApplyState.COMPLETED,
    _DR.COMPLETE: ApplyState.COMPLETED,
    _DR.COMPLETE_PENDING_REVERT: ApplyState.REVERT_WINDOW,
    _DR.QUEUED: ApplyState.RUNNING,
    _DR.SUBMITTING: ApplyState.RUNNING,
    _DR.IN_PROGRESS: ApplyState.RUNNING,
    _DR.IN_PROGRESS_VSCHEMA: ApplyState.RUNNING,
    _DR.PENDING_CUTOVER: ApplyState.WAITING_FOR_CUTOVER,
    _DR.IN_PROGRESS_CUTOVER: ApplyState.CUTTING_OVER,
    _DR.COMPLETE_ERROR: ApplyState.FAILED,
    _DR.ERROR: ApplyState.FAILED,
    _DR.FAILED: ApplyState.FAILED,
    _DR.COMPLETE_REVERT_ERROR: ApplyState.FAILED,
    # A PlanetScale cancel is permanent (a cancelled deploy request cannot be started again),
    # so it ends the apply cancelled, whether it is still cancelling or done: current upstream
    # maps all three to cancelled; b2349ea mapped all three to stopped, never one apart.
    _DR.IN_PROGRESS_CANCEL: ApplyState.CANCELLED,
    _DR.COMPLETE_CANCEL: ApplyState.CANCELLED,
    _DR.CANCELLED: ApplyState.CANCELLED,
    # b2349ea mapped these to running; HEAD (#629) says reverting, which is what we show.
    _DR.IN_PROGRESS_REVERT: ApplyState.REVERTING,
    _DR.IN_PROGRESS_REVERT_VSCHEMA: ApplyState.REVERTING,
    _DR.COMPLETE_REVERT: ApplyState.REVERTED,
}

# A deploy request in one of these is finished with: it is no longer the branch's open request.
CLOSED_DEPLOY_REQUEST_STATES: frozenset[str] = frozenset(
    {
        _DR.COMPLETE,
        _DR.COMPLETE_ERROR,
        _DR.COMPLETE_CANCEL,
        _DR.COMPLETE_REVERT,
        _DR.COMPLETE_REVERT_ERROR,
        _DR.CANCELLED,
        _DR.ERROR,
        _DR.FAILED,
    }
)


def engine_state(dr_state: str, deferred_deploy: bool) -> str:
    """The apply state a deploy-request state maps to; unknown states read as running."""
    if dr_state == _DR.READY and deferred_deploy:
        return ApplyState.WAITING_FOR_DEPLOY.value
    return _ENGINE_STATE.get(dr_state, ApplyState.RUNNING).value


def is_open(dr_state: str) -> bool:
    return dr_state not in CLOSED_DEPLOY_REQUEST_STATES


def deterministic_branch_name(database_name: str, plan_identifier: str) -> str:
    """SchemaBot's branch name for a plan (upstream ``generateBranchName``)."""
    database = database_name.replace("_", "-")[:20]
    return f"schemabot-{database}-{plan_identifier[-8:]}"


@dataclass(frozen=True)
class Branch:
    name: str
    parent_branch: str
    ready: bool

    @classmethod
    def from_api(cls, data: object) -> Branch:
        body = api_object(data, "branch")
        return cls(
            name=api_str(body, "name"),
            parent_branch=str(body.get("parent_branch") or ""),
            ready=bool(body.get("ready")),
        )


@dataclass(frozen=True)
class BranchPassword:
    """A branch password as created: ``plain_text`` is only ever in this answer."""

    id: str
    username: str
    plain_text: str
    access_host_url: str

    def __repr__(self) -> str:  # never print the secret
        return f"BranchPassword(id={self.id!r}, username={self.username!r})"

    @classmethod
    def from_api(cls, data: object) -> BranchPassword:
        body = api_object(data, "branch password")
        return cls(
            id=api_str(body, "id"),
            username=api_str(body, "username"),
            plain_text=api_str(body, "plain_text"),
            access_host_url=api_str(body, "access_host_url"),
        )


@dataclass(frozen=True)
class SchemaTable:
    """One table of ``GET …/branches/{branch}/schema``: its name and CREATE statement."""

    name: str
    raw: str


@dataclass(frozen=True)
class DeployRequest:
    """A deploy request as the API returns it. ``state`` is its ``deployment_state``;
    ``open`` is the API's open/closed ``state``."""

    number: int
    state: str
    branch: str
    into_branch: str
    deployed: bool
    deployed_at: str | None
    html_url: str
    open: bool = True
    instant_ddl_eligible: bool = False
    deploy_check_errors: str = ""

    @classmethod
    def from_api(cls, data: object) -> DeployRequest:
        body = api_object(data, "deploy request")
        nested = body.get("deployment")
        deployment: dict[str, Any] = nested if isinstance(nested, dict) else {}
        state = body.get("deployment_state") or deployment.get("state")
        number = body.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(state, str):
            raise EngineError("unexpected deploy request in the API response (number/state)")
        return cls(
            number=number,
            state=state,
            branch=api_str(body, "branch"),
            into_branch=str(body.get("into_branch") or MAIN_BRANCH),
            # A deploy was issued once the request (or its deployment) says when.
            deployed=any(
                body.get(key) or deployment.get(key)
                for key in ("deployed_at", "submitted_at", "queued_at")
            ),
            deployed_at=body.get("deployed_at") or deployment.get("submitted_at") or None,
            html_url=str(body.get("html_url") or ""),
            open=body.get("state") != "closed" and is_open(state),
            instant_ddl_eligible=bool(deployment.get("instant_ddl_eligible")),
            deploy_check_errors=str(deployment.get("deploy_check_errors") or ""),
        )

    @property
    def engine_state(self) -> str:
        return engine_state(self.state, deferred_deploy=False)


def api_object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise EngineError(f"unexpected {what} in the API response: not an object")
    return data


def api_str(body: Mapping[str, Any], key: str) -> str:
    item = body.get(key)
    if not isinstance(item, str) or not item:
        raise EngineError(f"unexpected API response: {key} is missing")
    return item
