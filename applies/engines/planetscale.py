"""A client for PlanetScale's public HTTP API, implementing the ``Engine`` steps (httpx).

Calls go to ``{api_url}/v1/organizations/{org}/databases/{db}/…``, authenticated with a service
token (``Authorization: <id>:<token>``; the token never reaches a log line or an exception).
Every request carries ``X-Ternadmin-Apply: <apply identifier>``: the real API ignores it, the
LocalScale emulator attributes calls with it.

Transient failures (5xx, 429, timeouts, refused connections) are retried with exponential
backoff and jitter, honouring ``Retry-After``. A POST that creates something is never retried
blindly: its step re-reads the engine first, so a lost response cannot create a second branch,
deploy request or deploy.

One deviation from the real service: ``POST branches/{b}/schema`` applies DDL statements to a
branch. SchemaBot runs that DDL over a MySQL connection made with a branch password
(``POST branches/{b}/passwords``); the emulator has no MySQL, so the client creates the password
the same way and then hands the statements to this endpoint instead.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from django.core.exceptions import ImproperlyConfigured

from applies.engines.base import (
    MAIN_BRANCH,
    Branch,
    BranchTarget,
    DeployRequest,
    DeployRequestState,
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineRejected,
    EngineUnavailable,
    missing_statements,
    wait_for_deploy_request,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
_DR = DeployRequestState
APPLY_HEADER = "X-Ternadmin-Apply"
# A Retry-After longer than this is a sign of trouble, not a schedule: cap the wait.
MAX_RETRY_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class PlanetScaleConfig:
    api_url: str
    organization: str
    token_id: str
    token: str = field(repr=False)
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 0.5  # first retry waits about this long, then doubling
    backoff_cap_seconds: float = 10.0
    branch_poll_seconds: float = 2.0
    branch_ready_timeout_seconds: float = 1800.0

    @classmethod
    def from_settings(cls) -> PlanetScaleConfig:
        from django.conf import settings

        config = cls(
            api_url=settings.PLANETSCALE_API_URL,
            organization=settings.PLANETSCALE_ORGANIZATION,
            token_id=settings.PLANETSCALE_SERVICE_TOKEN_ID,
            token=settings.PLANETSCALE_SERVICE_TOKEN,
            timeout_seconds=float(settings.PLANETSCALE_TIMEOUT_SECONDS),
            max_retries=settings.PLANETSCALE_MAX_RETRIES,
            backoff_seconds=settings.PLANETSCALE_BACKOFF_SECONDS,
        )
        config.check()
        return config

    def check(self) -> None:
        missing = [
            name
            for name, value in (
                ("PLANETSCALE_API_URL", self.api_url),
                ("PLANETSCALE_ORGANIZATION", self.organization),
                ("PLANETSCALE_SERVICE_TOKEN_ID", self.token_id),
                ("PLANETSCALE_SERVICE_TOKEN", self.token),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(
                f"PlanetScale applies are driven (TERNADMIN_ENGINES) but {', '.join(missing)} "
                "is not set."
            )


@dataclass(frozen=True)
class _Reply:
    status: int
    body: Any


class PlanetScaleEngine:
    """The ``Engine`` steps over PlanetScale's API. Thread-safe; ``close()`` when done."""

    def __init__(
        self,
        config: PlanetScaleConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=f"{config.api_url.rstrip('/')}/v1/organizations/"
            f"{_segment(config.organization)}/databases/",
            headers={
                "Authorization": f"{config.token_id}:{config.token}",
                "Accept": "application/json",
                "User-Agent": "ternadmin",
            },
            timeout=config.timeout_seconds,
        )

    @classmethod
    def from_settings(cls) -> PlanetScaleEngine:
        return cls(PlanetScaleConfig.from_settings())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PlanetScaleEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Branches ----------------------------------------------------------------------------

    def get_branch(self, target: BranchTarget) -> Branch:
        body = self._call("GET", target, f"branches/{_segment(target.branch)}")
        return Branch.from_api(body)

    def ensure_branch(self, target: BranchTarget) -> Branch:
        try:
            branch = self.get_branch(target)
        except EngineNotFound:
            branch = self._create_branch(target)
        return branch if branch.ready else self._wait_until_ready(target)

    def _create_branch(self, target: BranchTarget) -> Branch:
        payload = {"name": target.branch, "parent_branch": MAIN_BRANCH}
        try:
            return Branch.from_api(self._call("POST", target, "branches", json=payload))
        except EngineRejected as exc:
            # A retried create whose first answer was lost, or a racing driver: same branch.
            if not _name_taken(exc):
                raise
            return self.get_branch(target)

    def _wait_until_ready(self, target: BranchTarget) -> Branch:
        deadline = self._clock() + self.config.branch_ready_timeout_seconds
        while True:
            branch = self.get_branch(target)
            if branch.ready:
                return branch
            if self._clock() >= deadline:
                raise EngineUnavailable(f"branch {target.branch} is still not ready")
            self._sleep(self.config.branch_poll_seconds)

    def branch_schema(self, target: BranchTarget) -> list[str]:
        body = self._call("GET", target, f"branches/{_segment(target.branch)}/schema")
        tables = body.get("data") if isinstance(body, dict) else None
        if not isinstance(tables, list):
            raise EngineError(f"unexpected schema of branch {target.branch} in the response")
        return [str(table.get("raw") or "") for table in tables if isinstance(table, dict)]

    def apply_branch_changes(self, target: BranchTarget) -> list[str]:
        # Re-diffed on every attempt: a retry after a lost answer finds its DDL applied.
        return self._reread_and_retry(lambda: self._apply_missing(target))

    def _apply_missing(self, target: BranchTarget) -> list[str]:
        missing = missing_statements(target.statements, self.branch_schema(target))
        if not missing:
            return []
        branch = _segment(target.branch)
        self._call("POST", target, f"branches/{branch}/passwords", json={"role": "admin"})
        self._call(
            "POST", target, f"branches/{branch}/schema", json={"statements": missing}, retry=False
        )
        return missing

    def validate_branch(self, target: BranchTarget) -> None:
        missing = missing_statements(target.statements, self.branch_schema(target))
        if missing:
            raise EngineRejected(
                f"branch {target.branch} lacks {len(missing)} desired statement(s), first: "
                f"{missing[0][:200]}"
            )

    # --- Deploy requests ---------------------------------------------------------------------

    def get_deploy_request(self, target: BranchTarget, number: int) -> DeployRequest:
        return DeployRequest.from_api(self._call("GET", target, f"deploy-requests/{number}"))

    def find_open_deploy_request(self, target: BranchTarget) -> DeployRequest | None:
        params = {"state": "open", "branch": target.branch, "into_branch": MAIN_BRANCH}
        body = self._call("GET", target, "deploy-requests", params=params)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise EngineError("unexpected deploy request list in the response")
        # Filtered here too: the filter is a request, and an older API may ignore it.
        candidates = [
            dr
            for dr in map(DeployRequest.from_api, items)
            if dr.branch == target.branch and dr.into_branch == MAIN_BRANCH and dr.open
        ]
        return min(candidates, key=lambda dr: dr.number, default=None)

    def ensure_deploy_request(
        self, target: BranchTarget, known_number: int | None
    ) -> DeployRequest:
        if known_number is not None:
            return self.get_deploy_request(target, known_number)
        return self._reread_and_retry(lambda: self._find_or_create_deploy_request(target))

    def _find_or_create_deploy_request(self, target: BranchTarget) -> DeployRequest:
        # Looking first closes upstream's window: a crash after the create but before the
        # number was persisted finds the request instead of opening a second one.
        found = self.find_open_deploy_request(target)
        if found is not None:
            return found
        payload = {
            "branch": target.branch,
            "into_branch": MAIN_BRANCH,
            "auto_cutover": not target.defer_cutover,
            "auto_delete_branch": True,
        }
        body = self._call("POST", target, "deploy-requests", json=payload, retry=False)
        return DeployRequest.from_api(body)

    def validate_deploy_request(
        self,
        target: BranchTarget,
        number: int,
        *,
        poll_interval: float = 0.5,
        timeout: float = 600.0,
    ) -> DeployRequest:
        dr = wait_for_deploy_request(
            self,
            target,
            number,
            lambda dr: dr.state != _DR.PENDING,
            poll_interval=poll_interval,
            timeout=timeout,
            clock=self._clock,
            sleep=self._sleep,
        )
        if dr.state in {_DR.ERROR, _DR.COMPLETE_ERROR, _DR.FAILED}:
            errors = "; ".join(dr.lint_errors) or "no lint errors reported"
            raise EngineRejected(f"deploy request {number} failed validation: {errors}")
        return dr

    def deploy(
        self, target: BranchTarget, number: int, *, instant: bool | None = None
    ) -> DeployRequest:
        dr = self.get_deploy_request(target, number)
        if dr.state != _DR.READY or dr.deployed or dr.deployed_at:
            return dr
        use_instant = dr.instant_ddl_eligible if instant is None else instant
        return self._act(target, number, "deploy", {"instant_ddl": use_instant})

    def cutover(self, target: BranchTarget, number: int) -> DeployRequest:
        return self._act_when(target, number, {_DR.PENDING_CUTOVER}, "apply-deploy")

    def revert(self, target: BranchTarget, number: int) -> DeployRequest:
        return self._act_when(target, number, {_DR.COMPLETE_PENDING_REVERT}, "revert")

    def skip_revert(self, target: BranchTarget, number: int) -> DeployRequest:
        return self._act_when(target, number, {_DR.COMPLETE_PENDING_REVERT}, "skip-revert")

    def cancel(self, target: BranchTarget, number: int) -> DeployRequest:
        dr = self.get_deploy_request(target, number)
        if not dr.open or dr.state == _DR.IN_PROGRESS_CANCEL:
            return dr
        return self._act(target, number, "cancel", None)

    def _act_when(
        self, target: BranchTarget, number: int, states: set[str], action: str
    ) -> DeployRequest:
        dr = self.get_deploy_request(target, number)
        if dr.state not in states:
            return dr
        return self._act(target, number, action, None)

    def _act(
        self, target: BranchTarget, number: int, action: str, payload: dict[str, Any] | None
    ) -> DeployRequest:
        """POST an action; a 409 means someone (or our own lost first try) got there first."""
        try:
            body = self._call("POST", target, f"deploy-requests/{number}/{action}", json=payload)
        except EngineConflict:
            return self.get_deploy_request(target, number)
        return DeployRequest.from_api(body)

    # --- Transport ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        target: BranchTarget,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        retry: bool = True,
    ) -> Any:
        """One API call; transient failures retried (when ``retry``), errors mapped."""
        url = f"{_segment(target.database)}/{path}"
        attempts = 1 + (self.config.max_retries if retry else 0)
        for attempt in range(attempts):
            reply = self._send(method, url, target.apply_identifier, json, params)
            if isinstance(reply, _Reply) and reply.status < 400:
                return reply.body
            delay = self._retry_delay(reply, attempt)
            if delay is None or attempt + 1 == attempts:
                raise self._failure(method, url, reply, attempts=attempt + 1)
            logger.info("PlanetScale %s %s: %s; retrying", method, url, _describe(reply))
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: str,
        apply_identifier: str,
        json: Any,
        params: dict[str, str] | None,
    ) -> _Outcome:
        try:
            response = self._http.request(
                method, url, json=json, params=params, headers={APPLY_HEADER: apply_identifier}
            )
        except httpx.TransportError as exc:
            return exc
        if response.status_code >= 400:
            return response
        try:
            return _Reply(response.status_code, response.json() if response.content else None)
        except ValueError:
            return response  # 2xx that is not JSON: reported as unexpected, not retried

    def _retry_delay(self, outcome: _Outcome, attempt: int) -> float | None:
        """How long to wait before retrying ``outcome``; None when it is not transient."""
        if isinstance(outcome, httpx.TransportError):
            return self._backoff(attempt)
        if isinstance(outcome, httpx.Response):
            if outcome.status_code == 429:
                retry_after = _retry_after(outcome)
                return self._backoff(attempt) if retry_after is None else retry_after
            if outcome.status_code >= 500:
                return self._backoff(attempt)
        return None

    def _reread_and_retry(self, step: Callable[[], T]) -> T:
        """Run a step that re-reads before it writes; after a transient failure, run it again."""
        for attempt in range(self.config.max_retries + 1):
            try:
                return step()
            except EngineUnavailable:
                if attempt == self.config.max_retries:
                    raise
                self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        base = min(self.config.backoff_cap_seconds, self.config.backoff_seconds * 2**attempt)
        # Jitter spreads drivers that failed together so they do not retry together.
        return base * (0.5 + random.random() / 2)

    def _failure(self, method: str, url: str, outcome: _Outcome, *, attempts: int) -> EngineError:
        where = f"PlanetScale {method} {url}"
        if isinstance(outcome, httpx.TransportError):
            detail = f"{type(outcome).__name__}: {outcome}"
            return EngineUnavailable(self._redact(f"{where}: {detail} ({attempts} attempt(s))"))
        if isinstance(outcome, _Reply):  # pragma: no cover - successes are returned, not raised
            return EngineError(f"{where}: unexpected answer {outcome.status}")
        status = outcome.status_code
        text = self._redact(f"{where}: {status} {_api_message(outcome)}")
        if status == 429 or status >= 500:
            return EngineUnavailable(f"{text} ({attempts} attempt(s))")
        if status < 400:
            return EngineError(f"{text}: the answer is not JSON")
        error_class = {404: EngineNotFound, 409: EngineConflict}.get(status, EngineRejected)
        return error_class(text, status=status)

    def _redact(self, text: str) -> str:
        # Belt and braces: nothing we build contains the token, but an API message might
        # echo a header back.
        token = self.config.token
        return text.replace(token, "[redacted]") if token else text


_Outcome = _Reply | httpx.Response | httpx.TransportError


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), capped; None when absent/bad."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _describe(outcome: _Outcome) -> str:
    if isinstance(outcome, httpx.Response):
        return str(outcome.status_code)
    if isinstance(outcome, httpx.TransportError):
        return type(outcome).__name__
    return str(outcome.status)


def _api_message(response: httpx.Response) -> str:
    """The API's own error message (``{"code", "message"}``), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    return response.reason_phrase


def _segment(value: str) -> str:
    """One URL path segment: names are quoted so a '/' can never change the endpoint."""
    return quote(value, safe="")


def _name_taken(exc: EngineRejected) -> bool:
    return isinstance(exc, EngineConflict) or "already been taken" in exc.message.lower()
