"""Helpers for tests that drive the PlanetScale client against LocalScale over real HTTP.

with serve_in_thread() as url:               # needs django_db(transaction=True)
    admin = LocalScaleAdmin(url)
    client = PlanetScaleClient(Transport(fast_config(url)), "shop", "apply-1")
    admin.add_fault(method="POST", path="/deploy$", status=503)
    admin.advance(5)                          # move the emulator clock on
    assert admin.stats()["apply-1"]["deploys"] == 1
"""

from __future__ import annotations

from typing import Any

import httpx

from applies.engines.planetscale.config import PlanetScaleConfig

TEST_ORGANIZATION = "ternadmin-test"
TEST_TOKEN_ID = "localscale-test"
TEST_TOKEN = "test-token-0123456789abcdef"  # the emulator accepts any token
AUTHORIZATION = {"Authorization": f"{TEST_TOKEN_ID}:{TEST_TOKEN}"}


def fast_config(url: str, **overrides: Any) -> PlanetScaleConfig:
    """A client configuration for tests: short polls and backoffs, few retries."""
    values: dict[str, Any] = {
        "api_url": url,
        "organization": TEST_ORGANIZATION,
        "token_id": TEST_TOKEN_ID,
        "token": TEST_TOKEN,
        "timeout_seconds": 5.0,
        "max_retries": 3,
        "backoff_seconds": 0.01,
        "backoff_cap_seconds": 0.05,
    }
    values.update(overrides)
    return PlanetScaleConfig(**values)


class LocalScaleAdmin:
    """The emulator's admin endpoints: faults, clock, reset, statistics."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(
            method, f"{self.url}/{path}", json=body, headers=AUTHORIZATION, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """``method``, ``path`` (regex), ``status`` | ``conflict``, ``delay_ms``,
        ``retry_after``, ``after`` (run the call, then fail), ``count``, ``message``."""
        return dict(self._call("POST", "admin/faults", rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/faults")["data"])

    def clear_faults(self) -> None:
        self._call("DELETE", "admin/faults")

    def advance(self, seconds: float) -> None:
        self._call("POST", "admin/clock", {"advance_seconds": seconds})

    def set_time_scale(self, scale: float | None) -> None:
        self._call("POST", "admin/clock", {"time_scale": scale})

    def freeze(self, time_scale: float = 1.0) -> None:
        """Stop real time passing: from now on only ``advance`` moves the emulator clock."""
        self._call("POST", "admin/clock", {"frozen": True, "time_scale": time_scale})

    def unfreeze(self) -> None:
        self._call("POST", "admin/clock", {"frozen": False})

    def clock(self) -> dict[str, Any]:
        """``{"now": ISO time, "time_scale": float, "frozen": bool}``."""
        return dict(self._call("GET", "admin/clock"))

    def reset(self) -> None:
        self._call("POST", "admin/reset")

    def seed(self, organization: str, database: str, keyspaces: dict[str, Any]) -> list[str]:
        """Give a database's main branch its keyspaces: ``{name: {"tables": [DDL], "vschema"}}``."""
        body = {"organization": organization, "database": database, "keyspaces": keyspaces}
        return list(self._call("POST", "admin/databases", body)["keyspaces"])

    def stats(self) -> dict[str, dict[str, int]]:
        return dict(self._call("GET", "admin/stats"))

    def calls(self, apply_identifier: str | None = None) -> list[dict[str, Any]]:
        path = "admin/calls" + (f"?apply={apply_identifier}" if apply_identifier else "")
        return list(self._call("GET", path)["data"])
