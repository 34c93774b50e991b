"""A scripted PlanetScale API for unit tests (httpx.MockTransport), with documented shapes.

The bodies below follow PlanetScale's API reference (v1): a branch, a branch password (the
only answer carrying ``plain_text``), a branch schema (``data`` of ``name``/``html``/``raw``),
a keyspace VSchema (``raw``), a deploy request (``number``, ``state``, ``deployment_state``,
``deployment`` …) and list answers wrapping ``data``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from applies.engines.planetscale.client import PlanetScaleClient
from applies.engines.planetscale.config import PlanetScaleConfig
from applies.engines.planetscale.transport import Transport

ORG = "acme"
DATABASE = "shop_db"
# Any database: the driver tests use the apply's own database name.
PREFIX = re.compile(rf"^/v1/organizations/{ORG}/databases/[^/]+/")
TOKEN = "pscale_tkn_secret-0123456789"
Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def branch_body(name: str, *, ready: bool = True) -> dict[str, Any]:
    return {
        "id": "bk1", "name": name, "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z", "ready": ready, "production": False,
        "safe_migrations": False, "parent_branch": "main", "html_url": f"https://x/{name}",
        "url": f"https://api/{name}",
    }  # fmt: skip


def password_body(host: str = "aws.connect.psdb.cloud") -> dict[str, Any]:
    return {
        "id": "pw123", "name": "ternadmin-x", "role": "admin", "username": "u123",
        "plain_text": "pscale_pw_secret", "access_host_url": host, "expires_at": "2026-01-01",
        "ttl_seconds": 600, "created_at": "2026-01-01T00:00:00.000Z", "expired": False,
    }  # fmt: skip


def schema_body(*tables: tuple[str, str]) -> dict[str, Any]:
    return {"data": [{"name": name, "html": "<pre/>", "raw": raw} for name, raw in tables]}


def deploy_request_body(
    number: int, state: str, *, branch: str = "feature", deployed_at: str | None = None
) -> dict[str, Any]:
    return {
        "id": f"dr{number}", "number": number, "branch": branch, "into_branch": "main",
        "approved": False, "state": "closed" if state in ("complete", "error") else "open",
        "deployment_state": state, "html_url": f"https://app/dr/{number}",
        "deployed_at": deployed_at, "notes": "",
        "deployment": {"id": "d1", "state": state, "auto_cutover": True,
                       "auto_delete_branch": True, "instant_ddl_eligible": False,
                       "deploy_check_errors": None, "deployable": state == "ready"},
    }  # fmt: skip


@dataclass
class FakeAPI:
    """Routes ``(METHOD, path after the database)`` to scripted replies, consumed in order
    (the last one repeats); records every request. Anything else is answered ``unrouted``."""

    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    unrouted: int = 404

    def route(self, method: str, path: str, *replies: Reply | dict[str, Any] | int) -> None:
        self.routes[(method, path)] = [_reply(r) for r in replies]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = PREFIX.sub("", request.url.path)
        replies = self.routes.get((request.method, path))
        if not replies:
            reason = httpx.codes.get_reason_phrase(self.unrouted)
            return httpx.Response(self.unrouted, json={"code": "unrouted", "message": reason})
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        return reply(request) if callable(reply) else reply

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [
            r for r in self.requests if r.method == method and PREFIX.sub("", r.url.path) == path
        ]

    def body(self, request: httpx.Request) -> Any:
        return json.loads(request.content) if request.content else None


def _reply(reply: Reply | dict[str, Any] | int) -> Reply:
    if isinstance(reply, int):
        return httpx.Response(reply, json={"code": "x", "message": f"status {reply}"})
    if isinstance(reply, dict):
        return httpx.Response(200, json=reply)
    return reply


def config(**overrides: Any) -> PlanetScaleConfig:
    values: dict[str, Any] = {
        "api_url": "https://api.planetscale.test",
        "organization": ORG,
        "token_id": "tid",
        "token": TOKEN,
        "max_retries": 3,
        "backoff_seconds": 0.1,
        "backoff_cap_seconds": 1.0,
    }
    values.update(overrides)
    return PlanetScaleConfig(**values)


class Recorder:
    """Stands in for ``time.sleep``: records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(
    api: FakeAPI, sleep: Callable[[float], None] | None = None, **overrides: Any
) -> PlanetScaleClient:
    transport = Transport(
        config(**overrides), sleep=sleep or Recorder(), http=httpx.MockTransport(api.handle)
    )
    return PlanetScaleClient(transport, DATABASE, "apply-unit")
