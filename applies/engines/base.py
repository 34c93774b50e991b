"""The engine protocol the recovery driver speaks, and the types it shares with the clients.

Every step of ``Engine`` is idempotent: it re-reads the engine before acting, so a driver that
crashed anywhere can call the same step again without creating anything twice (domain.md §4.4,
including the two windows upstream leaves open: a duplicate deploy request after a crash before
its number was persisted, and DDL re-run on a reused branch).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from applies.states import ApplyState

MAIN_BRANCH = "main"


class DeployRequestState(StrEnum):
    """PlanetScale's deploy-request deployment states (domain.md §2.3)."""

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
    _DR.IN_PROGRESS_CANCEL: ApplyState.STOPPED,
    _DR.COMPLETE_CANCEL: ApplyState.STOPPED,
    _DR.CANCELLED: ApplyState.STOPPED,
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


# --- Errors -----------------------------------------------------------------------------------


class EngineError(Exception):
    """Anything an engine call can fail with. Messages never carry credentials."""


class EngineUnavailable(EngineError):
    """Transient: 5xx, 429 or a transport error that outlasted the retries. Try again later."""


class EngineRejected(EngineError):
    """The engine refused the call (4xx) or its answer rules the step out. Not transient."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EngineNotFound(EngineRejected):
    """404: the branch or deploy request does not exist (any more)."""


class EngineConflict(EngineRejected):
    """409: the engine's state forbids the call now (already deployed, name taken, …)."""


class CorruptResumeState(ValueError):
    """Persisted engine resume metadata that cannot be read: a person has to look at it."""


# --- Persisted resume state (domain.md §4.3) ---------------------------------------------------

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, written when no deploy happened yet


@dataclass(frozen=True)
class PlanetScaleMetadata:
    """``apply_operations.engine_resume_metadata`` of a PlanetScale apply (SchemaBot's psMetadata).

    ``extra`` keeps keys a newer SchemaBot writes (``revert_expires_at``, …) so that reading and
    writing the metadata back never drops them.
    """

    branch_name: str
    deploy_request_id: int | None = None
    deploy_request_url: str = ""
    deployed_at: str | None = None
    is_instant: bool = False
    deferred_deploy: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON SchemaBot writes: a DR number of 0 means none, empty values are omitted."""
        value: dict[str, Any] = dict(self.extra)
        value.update(
            branch_name=self.branch_name,
            deploy_request_id=self.deploy_request_id or 0,
            is_instant=self.is_instant,
            deferred_deploy=self.deferred_deploy,
        )
        if self.deploy_request_url:
            value["deploy_request_url"] = self.deploy_request_url
        if self.deployed_at:
            value["deployed_at"] = self.deployed_at
        return value

    @classmethod
    def from_json(cls, value: object) -> PlanetScaleMetadata | None:
        """Parse stored metadata. NULL, '' and {} mean "none"; anything malformed raises
        ``CorruptResumeState`` rather than guessing (a wrong guess could fork a second deploy)."""
        data = _metadata_object(value)
        if not data:
            return None
        known = {
            "branch_name",
            "deploy_request_id",
            "deploy_request_url",
            "deployed_at",
            "is_instant",
            "deferred_deploy",
        }
        return cls(
            branch_name=_branch_name(data),
            deploy_request_id=_deploy_request_id(data),
            deploy_request_url=_optional_str(data, "deploy_request_url") or "",
            deployed_at=_deployed_at(data),
            is_instant=_flag(data, "is_instant"),
            deferred_deploy=_flag(data, "deferred_deploy"),
            extra={key: item for key, item in data.items() if key not in known},
        )

    def with_deploy_request(self, dr: DeployRequest) -> PlanetScaleMetadata:
        """This metadata pointing at ``dr`` (number, URL and deploy time)."""
        return replace(
            self,
            deploy_request_id=dr.number,
            deploy_request_url=dr.html_url or self.deploy_request_url,
            deployed_at=dr.deployed_at or self.deployed_at,
        )


def _metadata_object(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, bytes | str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            raise CorruptResumeState("resume metadata is not valid JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CorruptResumeState(f"resume metadata is a {type(value).__name__}, not an object")
    return value


def _branch_name(data: Mapping[str, Any]) -> str:
    name = data.get("branch_name")
    if not isinstance(name, str) or not name.strip():
        raise CorruptResumeState(f"resume metadata has no usable branch_name: {name!r}")
    return name


def _deploy_request_id(data: Mapping[str, Any]) -> int | None:
    number = data.get("deploy_request_id")
    if number is None:
        return None
    # bool is an int in Python; a true/false here is corruption, not deploy request 1/0.
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise CorruptResumeState(f"resume metadata deploy_request_id is not a number: {number!r}")
    return number or None


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    item = data.get(key)
    if item is not None and not isinstance(item, str):
        raise CorruptResumeState(f"resume metadata {key} is not a string: {item!r}")
    return item


def _deployed_at(data: Mapping[str, Any]) -> str | None:
    item = _optional_str(data, "deployed_at")
    return None if not item or item == _ZERO_TIME else item


def _flag(data: Mapping[str, Any], key: str) -> bool:
    item = data.get(key, False)
    if not isinstance(item, bool):
        raise CorruptResumeState(f"resume metadata {key} is not a boolean: {item!r}")
    return item


# --- What the driver asks for, and what the engine answers -------------------------------------


@dataclass(frozen=True)
class BranchTarget:
    """One PlanetScale apply as the engine sees it: where, which branch, and the desired DDL."""

    database: str
    branch: str
    apply_identifier: str
    statements: tuple[str, ...]
    defer_cutover: bool = False
    defer_deploy: bool = False


def deterministic_branch_name(database_name: str, plan_identifier: str) -> str:
    """SchemaBot's branch name for a plan, so every resume finds the same branch (§4.4)."""
    database = database_name.replace("_", "-")[:20]
    return f"schemabot-{database}-{plan_identifier[-8:]}"


_WHITESPACE = re.compile(r"\s+")


def normalize_statement(statement: str) -> str:
    """The form two DDL statements are compared in: whitespace collapsed, no trailing ';'."""
    return _WHITESPACE.sub(" ", statement).strip().rstrip(";").strip()


def missing_statements(desired: tuple[str, ...] | list[str], present: list[str]) -> list[str]:
    """The desired statements that ``present`` lacks, in desired order, each once."""
    have = {normalize_statement(statement) for statement in present}
    missing: list[str] = []
    for statement in desired:
        key = normalize_statement(statement)
        if key and key not in have:
            have.add(key)
            missing.append(statement)
    return missing


@dataclass(frozen=True)
class Branch:
    name: str
    parent_branch: str
    ready: bool
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: object) -> Branch:
        body = _api_object(data, "branch")
        return cls(
            name=_api_str(body, "name"),
            parent_branch=str(body.get("parent_branch") or ""),
            ready=bool(body.get("ready")),
            created_at=body.get("created_at"),
        )


@dataclass(frozen=True)
class DeployRequest:
    """A deploy request as the API returns it. ``state`` is the deployment state (§2.3);
    ``open`` is the API's open/closed ``state``."""

    number: int
    state: str
    branch: str
    into_branch: str
    deployed: bool
    deployed_at: str | None
    url: str
    html_url: str
    auto_cutover: bool
    open: bool = True
    auto_delete_branch: bool = False
    instant_ddl_eligible: bool = False
    lint_errors: tuple[str, ...] = ()
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: object) -> DeployRequest:
        body = _api_object(data, "deploy request")
        nested = body.get("deployment")
        deployment: dict[str, Any] = nested if isinstance(nested, dict) else {}
        state = body.get("deployment_state") or deployment.get("state") or body.get("state")
        number = body.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(state, str):
            raise EngineError("unexpected deploy request in the API response (number/state)")
        return cls(
            number=number,
            state=state,
            branch=_api_str(body, "branch"),
            into_branch=str(body.get("into_branch") or MAIN_BRANCH),
            deployed=bool(body.get("deployed")) or bool(body.get("deployed_at")),
            deployed_at=body.get("deployed_at") or None,
            url=str(body.get("url") or ""),
            html_url=str(body.get("html_url") or ""),
            auto_cutover=bool(body.get("auto_cutover", deployment.get("auto_cutover"))),
            open=body.get("state") != "closed" and is_open(state),
            auto_delete_branch=bool(body.get("auto_delete_branch")),
            instant_ddl_eligible=bool(deployment.get("instant_ddl_eligible")),
            lint_errors=tuple(str(error) for error in deployment.get("lint_errors") or ()),
            created_at=body.get("created_at"),
        )

    @property
    def engine_state(self) -> str:
        return engine_state(self.state, deferred_deploy=False)


def _api_object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise EngineError(f"unexpected {what} in the API response: not an object")
    return data


def _api_str(body: Mapping[str, Any], key: str) -> str:
    item = body.get(key)
    if not isinstance(item, str) or not item:
        raise EngineError(f"unexpected API response: {key} is missing")
    return item


# --- The protocol -----------------------------------------------------------------------------


class Engine(Protocol):
    """The idempotent steps a recovery driver calls. Each re-reads the engine before acting."""

    def get_branch(self, target: BranchTarget) -> Branch:
        """The target branch as it is now; ``EngineNotFound`` when it does not exist."""
        ...

    def ensure_branch(self, target: BranchTarget) -> Branch:
        """The target branch, created from main if absent (a taken name is reused), once ready."""
        ...

    def apply_branch_changes(self, target: BranchTarget) -> list[str]:
        """Apply only the desired statements the branch lacks; returns what was applied."""
        ...

    def validate_branch(self, target: BranchTarget) -> None:
        """Raise ``EngineRejected`` unless the branch holds every desired statement."""
        ...

    def find_open_deploy_request(self, target: BranchTarget) -> DeployRequest | None:
        """The open deploy request of the target branch into main, if there is one."""
        ...

    def ensure_deploy_request(
        self, target: BranchTarget, known_number: int | None
    ) -> DeployRequest:
        """The known deploy request, else the branch's open one, else a new one."""
        ...

    def validate_deploy_request(
        self, target: BranchTarget, number: int, *, poll_interval: float, timeout: float
    ) -> DeployRequest:
        """Wait out ``pending``; ``error`` raises ``EngineRejected``; ``no_changes`` is fine."""
        ...

    def deploy(self, target: BranchTarget, number: int) -> DeployRequest:
        """Deploy a ``ready``, never-deployed request; otherwise just return it as it is."""
        ...

    def get_deploy_request(self, target: BranchTarget, number: int) -> DeployRequest: ...

    def cutover(self, target: BranchTarget, number: int) -> DeployRequest:
        """Apply the deploy (cut over) when it waits in ``pending_cutover``."""
        ...

    def revert(self, target: BranchTarget, number: int) -> DeployRequest:
        """Revert a deploy in its revert window."""
        ...

    def skip_revert(self, target: BranchTarget, number: int) -> DeployRequest:
        """Close the revert window of a deploy now."""
        ...

    def cancel(self, target: BranchTarget, number: int) -> DeployRequest:
        """Cancel a deploy request that is not finished (permanent)."""
        ...

    def close(self) -> None: ...


def wait_for_deploy_request(
    engine: Engine,
    target: BranchTarget,
    number: int,
    until: Callable[[DeployRequest], bool],
    *,
    poll_interval: float,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> DeployRequest:
    """Poll the deploy request until ``until`` holds; ``EngineUnavailable`` after ``timeout``."""
    deadline = clock() + timeout
    while True:
        dr = engine.get_deploy_request(target, number)
        if until(dr):
            return dr
        if clock() >= deadline:
            raise EngineUnavailable(
                f"deploy request {number} still {dr.state} after {timeout:g}s of waiting"
            )
        sleep(poll_interval)
