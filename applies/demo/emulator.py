"""Giving the PlanetScale emulator the demo's production schemas, through its admin API.

The demo's PlanetScale applies change real tables: their plans' tasks take each database's
production schema (``world.production_schemas``) to the plan's schema files. The emulator only
knows a database once told, so ``seed_demo --seed-emulator`` posts each one to LocalScale's
``POST /admin/databases`` (an emulator endpoint, not PlanetScale's API; the demo is the only
caller). A database whose production branch already has tables is left as it is: demo drives
may have changed it.
"""

from __future__ import annotations

import random
from urllib.parse import quote

import httpx

from applies.demo.world import World, production_schemas
from applies.engines.planetscale.config import PlanetScaleConfig


class EmulatorUnreachable(Exception):
    """The emulator did not answer, or refused the seeding."""


Keyspaces = dict[str, dict[str, object]]


def demo_databases(seed: int) -> dict[str, Keyspaces]:
    return production_schemas(World(random.Random(seed)))


def seed_emulator(config: PlanetScaleConfig, schemas: dict[str, Keyspaces]) -> list[str]:
    """Seed every database of ``schemas`` the emulator lacks; the ones seeded."""
    headers = {"Authorization": f"{config.token_id}:{config.token}"}
    seeded = []
    try:
        with httpx.Client(base_url=config.api_url, headers=headers, timeout=30) as http:
            for database, keyspaces in schemas.items():
                if _has_tables(http, config.organization, database, keyspaces):
                    continue
                body = {"organization": config.organization, "database": database}
                response = http.post("admin/databases", json={**body, "keyspaces": keyspaces})
                if response.status_code >= 300:
                    raise EmulatorUnreachable(f"{database}: {response.status_code} {response.text}")
                seeded.append(database)
    except httpx.HTTPError as exc:
        raise EmulatorUnreachable(f"{config.api_url}: {type(exc).__name__}: {exc}") from None
    return seeded


def _has_tables(http: httpx.Client, organization: str, database: str, keyspaces: Keyspaces) -> bool:
    main = f"v1/organizations/{quote(organization, safe='')}/databases/{quote(database, safe='')}"
    for keyspace in keyspaces:
        response = http.get(f"{main}/branches/main/schema", params={"keyspace": keyspace})
        if response.status_code == 200 and response.json().get("data"):
            return True
    return False
