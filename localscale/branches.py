"""Databases, branches and keyspaces: what the branch endpoints and the admin seeding do.

An emulated database comes into being with its ``main`` branch the first time it is used (one
keyspace named after the database, as an unsharded PlanetScale database has), or seeded with
keyspaces, tables and VSchemas (``seed_database``). A new branch copies its parent's keyspaces:
schema and VSchema, no rows. Callers hold ``database_lock`` for the whole call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from localscale import passwords, store
from localscale.clock import Reading
from localscale.errors import ApiError
from localscale.models import Branch, Keyspace

MAIN_BRANCH = "main"
BRANCH_READY_SECONDS = 1.0
_BRANCH_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
_KEYSPACE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def database_lock(org: str, db: str, reading: Reading) -> Branch:
    """Lock the database (its ``main`` row, created on first use) for the rest of the call."""
    main = Branch.objects.filter(organization=org, database_name=db, name=MAIN_BRANCH).first()
    if main is None:
        main = create_database(org, db, {db: {}}, reading)
    return Branch.objects.select_for_update().get(pk=main.pk)


def create_database(
    org: str, db: str, keyspaces: Mapping[str, Mapping[str, Any]], reading: Reading
) -> Branch:
    """A database's ``main`` branch with ``keyspaces`` ({name: {"tables": [...], "vschema"}})."""
    main, created = Branch.objects.get_or_create(
        organization=org,
        database_name=db,
        name=MAIN_BRANCH,
        defaults={"ready": True, "ready_at": reading.now, "created_at": reading.now},
    )
    if created:
        for name in keyspaces:
            _add_keyspace(main, name, "", {}, reading)
    return main


def seed_database(
    org: str, db: str, keyspaces: Mapping[str, Mapping[str, Any]], reading: Reading
) -> Branch:
    """Create the database if needed and bring main's keyspaces to ``keyspaces``: each gets its
    DDL run and its VSchema set (the demo's and the tests' production schema)."""
    _check_keyspaces(keyspaces)
    main = database_lock(org, db, reading) if _exists(org, db) else None
    main = main or create_database(org, db, keyspaces, reading)
    backend = store.current()
    for name, spec in keyspaces.items():
        keyspace = main.keyspaces.filter(name=name).first()
        if keyspace is None:
            keyspace = _add_keyspace(main, name, "", {}, reading)
        try:
            backend.run(keyspace, list(spec.get("tables") or []))
        except store.StoreError as exc:
            raise ApiError(422, "unprocessable", f"{name}: {exc.message}") from None
        if spec.get("vschema") is not None:
            keyspace.vschema = _vschema_text(spec["vschema"])
            keyspace.save(update_fields=["vschema"])
    return main


def _exists(org: str, db: str) -> bool:
    return Branch.objects.filter(organization=org, database_name=db, name=MAIN_BRANCH).exists()


def _check_keyspaces(keyspaces: object) -> None:
    if not isinstance(keyspaces, Mapping) or not keyspaces:
        raise ApiError(400, "bad_request", "keyspaces must be an object of keyspace names.")
    for name, spec in keyspaces.items():
        if not _KEYSPACE_NAME.match(str(name)) or not isinstance(spec, Mapping):
            raise ApiError(400, "bad_request", f"keyspace {name!r}: a name and an object.")
        tables = spec.get("tables") or []
        if not isinstance(tables, list) or not all(isinstance(item, str) for item in tables):
            raise ApiError(400, "bad_request", f"keyspace {name}: tables is a list of DDL.")


def _add_keyspace(
    branch: Branch, name: str, vschema: str, tables: Mapping[str, str], reading: Reading
) -> Keyspace:
    keyspace = Keyspace.objects.create(
        branch=branch, name=name, vschema=vschema, created_at=reading.now
    )
    try:
        store.current().create_keyspace(keyspace, tables)
    except store.StoreError as exc:
        raise ApiError(
            503, "unavailable", f"cannot create keyspace {name}: {exc.message}"
        ) from None
    return keyspace


# --- Branches ---------------------------------------------------------------------------------


def get_branch(org: str, db: str, name: str, reading: Reading) -> Branch:
    branch = Branch.objects.filter(organization=org, database_name=db, name=name).first()
    if branch is None:
        raise ApiError(404, "not_found", f"Branch {name} was not found.")
    return refresh_branch(branch, reading)


def list_branches(org: str, db: str, reading: Reading) -> list[Branch]:
    branches = Branch.objects.filter(organization=org, database_name=db).order_by("pk")
    return [refresh_branch(branch, reading) for branch in branches]


def create_branch(org: str, db: str, payload: dict[str, Any], reading: Reading) -> Branch:
    name = text(payload, "name")
    if not _BRANCH_NAME.match(name):
        raise ApiError(422, "unprocessable", f"Branch name {name!r} is not valid.")
    parent = get_branch(org, db, text(payload, "parent_branch", MAIN_BRANCH), reading)
    if Branch.objects.filter(organization=org, database_name=db, name=name).exists():
        raise ApiError(409, "conflict", "Name has already been taken")
    branch = Branch.objects.create(
        organization=org,
        database_name=db,
        name=name,
        parent_branch=parent.name,
        ready=False,
        ready_at=reading.after(reading.now, BRANCH_READY_SECONDS),
        created_at=reading.now,
    )
    backend = store.current()
    for source in parent.keyspaces.order_by("name"):
        _add_keyspace(branch, source.name, source.vschema, backend.tables(source), reading)
    return branch


def ready_branch(org: str, db: str, name: str, reading: Reading) -> Branch:
    branch = get_branch(org, db, name, reading)
    if not branch.ready:
        raise ApiError(422, "branch_not_ready", f"Branch {name} is not ready yet.")
    return branch


def refresh_branch(branch: Branch, reading: Reading) -> Branch:
    """Mark a branch ready once its ready time has come (saved)."""
    if not branch.ready and reading.now >= branch.ready_at:
        branch.ready = True
        branch.save(update_fields=["ready"])
    return branch


def delete_branch(branch: Branch) -> None:
    """The branch, its databases and every account of its passwords."""
    for password in branch.passwords.filter(deleted_at__isnull=True):
        passwords.retire(password)
    backend = store.current()
    for keyspace in branch.keyspaces.all():
        backend.drop_keyspace(keyspace)
    branch.delete()


# --- Keyspaces, schema and VSchema ------------------------------------------------------------


def keyspaces(branch: Branch) -> list[Keyspace]:
    return list(branch.keyspaces.order_by("name"))


def keyspace(branch: Branch, name: str) -> Keyspace:
    found = branch.keyspaces.filter(name=name).first()
    if found is None:
        raise ApiError(404, "not_found", f"Keyspace {name} was not found on {branch.name}.")
    return found


def schema(branch: Branch, keyspace_name: str = "") -> list[tuple[Keyspace, str, str]]:
    """(keyspace, table, SHOW CREATE TABLE) of the branch, or of one keyspace of it."""
    chosen = [keyspace(branch, keyspace_name)] if keyspace_name else keyspaces(branch)
    backend = store.current()
    found: list[tuple[Keyspace, str, str]] = []
    for each in chosen:
        try:
            tables = backend.tables(each)
        except store.StoreError as exc:
            raise ApiError(503, "unavailable", f"cannot read {each.name}: {exc.message}") from None
        found.extend((each, name, ddl) for name, ddl in tables.items())
    return found


def update_vschema(branch: Branch, name: str, payload: dict[str, Any]) -> Keyspace:
    if branch.name == MAIN_BRANCH:
        # Safe migrations: production changes only through a deploy request.
        raise ApiError(422, "unprocessable", "VSchema changes on main go through a deploy request.")
    found = keyspace(branch, name)
    found.vschema = _vschema_text(payload.get("vschema"))
    found.save(update_fields=["vschema"])
    return found


def _vschema_text(value: object) -> str:
    """A VSchema is JSON text; refuse anything else (an object is accepted and serialised)."""
    if isinstance(value, dict):
        return json.dumps(value, indent=2, sort_keys=True)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "bad_request", "vschema is required (a JSON document).")
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ApiError(422, "unprocessable", "vschema is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ApiError(422, "unprocessable", "vschema must be a JSON object.")
    return value


def vschema_equal(first: str, second: str) -> bool:
    return _parsed(first) == _parsed(second)


def _parsed(text: str) -> object:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return text


def text(payload: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "bad_request", f"{key} is required (a string).")
    return value
