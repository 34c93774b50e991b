"""HTTP to PlanetScale's public API v1: authentication, retries, error mapping, secrecy (httpx).

Calls go to ``{api_url}/v1/organizations/{org}/databases/…``, authenticated with a service
token (``Authorization: <id>:<token>``; the token never reaches a log line or an exception).
Every request carries ``X-Ternadmin-Apply: <apply identifier>``: the real API ignores it, the
LocalScale emulator attributes calls with it.

Transient failures (5xx, 429, timeouts, refused connections) are retried with exponential
backoff and jitter, honouring ``Retry-After``. A POST that creates something is never retried
blindly (``retry=False``): its step re-reads the engine first, so a lost response cannot create
a second branch, deploy request or deploy. A token PlanetScale refuses (401/403) is ternadmin's
own problem, not the apply's: ``EngineAccessDenied``, which a drive retries rather than fails.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from applies.engines.base import (
    EngineAccessDenied,
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineRejected,
    EngineUnavailable,
)
from applies.engines.planetscale.config import PlanetScaleConfig

logger = logging.getLogger(__name__)

APPLY_HEADER = "X-Ternadmin-Apply"
# A Retry-After longer than this is a sign of trouble, not a schedule: cap the wait.
MAX_RETRY_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class _Reply:
    status: int
    body: Any


class Transport:
    """One HTTP client (a connection pool) per runner, shared by the drivers of the applies it
    steps. Thread-safe; ``close()`` when done."""

    def __init__(
        self,
        config: PlanetScaleConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self._http = httpx.Client(
            base_url=f"{config.api_url.rstrip('/')}/v1/organizations/"
            f"{segment(config.organization)}/databases/",
            headers={
                "Authorization": f"{config.token_id}:{config.token}",
                "Accept": "application/json",
                "User-Agent": "ternadmin",
            },
            timeout=config.timeout_seconds,
            transport=http,
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        apply_identifier: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        retry: bool = True,
    ) -> Any:
        """One API call; transient failures retried (when ``retry``), errors mapped."""
        attempts = 1 + (self.config.max_retries if retry else 0)
        for attempt in range(attempts):
            reply = self._send(method, path, apply_identifier, json, params)
            if isinstance(reply, _Reply) and reply.status < 400:
                return reply.body
            delay = self._retry_delay(reply, attempt)
            if delay is None or attempt + 1 == attempts:
                raise self._failure(method, path, reply, attempts=attempt + 1)
            logger.info("PlanetScale %s %s: %s; retrying", method, path, _describe(reply))
            self.sleep(delay)
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
        if status in (401, 403):  # the service token, not the apply
            return EngineAccessDenied(text)
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


def segment(value: str) -> str:
    """One URL path segment: names are quoted so a '/' can never change the endpoint."""
    return quote(value, safe="")
