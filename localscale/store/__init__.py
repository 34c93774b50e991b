"""Where branch schemas live: real databases on a MySQL server, or the schema-only model.

``current()`` picks the store from ``LOCALSCALE_MYSQL_URL``. Both keep the same promises, so the
API, the deploy state machine and the MySQL endpoint never ask which one they talk to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from localscale.models import Keyspace, Password

# Tables a deploy keeps for its revert window are named _ls<number>_<table>; a schema read
# never shows them (PlanetScale hides Vitess's own _vt_ tables the same way).
KEPT_TABLE_PREFIX = "_ls"


@dataclass(frozen=True)
class TableChange:
    """One table a deploy request changes: ``old``/``new`` are CREATE statements (None: absent)."""

    table: str
    operation: str  # create | alter | drop
    old: str | None
    new: str | None

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "operation": self.operation, "old": self.old, "new": self.new}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TableChange:
        return cls(data["table"], data["operation"], data.get("old"), data.get("new"))


class StoreError(Exception):
    """The store could not do what was asked (a server error, a DDL error): code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BranchStore(Protocol):
    def create_keyspace(self, keyspace: Keyspace, tables: Mapping[str, str]) -> None:
        """Make the keyspace's database, holding ``tables`` (name → CREATE TABLE)."""
        ...

    def drop_keyspace(self, keyspace: Keyspace) -> None: ...

    def tables(self, keyspace: Keyspace) -> dict[str, str]:
        """Name → ``SHOW CREATE TABLE`` of every table, kept deploy tables left out."""
        ...

    def run(self, keyspace: Keyspace, statements: Sequence[str]) -> None:
        """Run DDL in the keyspace as the emulator (seeding a database's main branch)."""
        ...

    def deploy(
        self, keyspace: Keyspace, changes: Sequence[TableChange], number: int
    ) -> list[dict[str, Any]]:
        """Apply ``changes`` to the keyspace; returns what ``revert``/``finish`` need."""
        ...

    def revert(self, keyspace: Keyspace, undo: Sequence[Mapping[str, Any]]) -> None: ...

    def finish(self, keyspace: Keyspace, undo: Sequence[Mapping[str, Any]]) -> None:
        """The revert window closed: drop whatever was kept for a revert."""
        ...

    def create_account(
        self, password: Password, secret: str, keyspaces: Sequence[Keyspace]
    ) -> None: ...

    def drop_account(self, username: str) -> None: ...

    def reset(self) -> dict[str, int]:
        """Drop every database and account this emulator made; counts by kind."""
        ...


def current() -> BranchStore:
    if settings.LOCALSCALE_MYSQL_URL is None:
        from localscale.store.model import ModelStore

        return ModelStore()
    from localscale.store.mariadb import MariaDBStore

    return MariaDBStore(settings.LOCALSCALE_MYSQL_URL)


def is_kept_table(name: str) -> bool:
    rest = name[len(KEPT_TABLE_PREFIX) :] if name.startswith(KEPT_TABLE_PREFIX) else ""
    number, _, table = rest.partition("_")
    return number.isdigit() and bool(table)


def kept_table(number: int, table: str, suffix: str = "") -> str:
    """``_ls<number>_<table>[<suffix>]`` within MySQL's 64 characters."""
    head = f"{KEPT_TABLE_PREFIX}{number}_"
    return head + table[: 64 - len(head) - len(suffix)] + suffix
