"""Bringing a branch to the desired schema: VSchema first, then the plan's DDL, per keyspace.

As upstream (pkg/engine/planetscale/apply.go, ``applyKeyspaceChangesOnce`` and
``updateBranchVSchema``): the VSchema goes through ``PATCH …/keyspaces/{k}/vschema`` before
the DDL, because vtgate routes DDL by it; the DDL runs over a MySQL connection made with an
admin branch password. Unlike a fresh upstream apply, every run starts from a diff of the
branch (``diff``): a table already at its desired shape is never touched, so a run repeated
after a crash does only what is left. The password is short-lived and deleted when done, so a
crash leaves at most one behind, and it expires on its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

from applies.engines.base import EngineError, EngineRejected
from applies.engines.planetscale.branch_sql import BranchConnection, mysql_driver
from applies.engines.planetscale.client import PlanetScaleClient
from applies.engines.planetscale.diff import SchemaDiff, diff_keyspace, diff_schema
from applies.engines.planetscale.schema_files import DesiredSchema

logger = logging.getLogger(__name__)

# (keyspace, lower-cased table) -> the plan's DDL for that table
PlannedDDL = Mapping[tuple[str, str], str]
# Called with "before"/"after" around every DDL statement (crash points in tests).
StatementHook = Callable[[Literal["before", "after"]], None]


@dataclass
class BranchChanges:
    vschemas: list[str] = field(default_factory=list)  # keyspaces whose VSchema was written
    statements: list[str] = field(default_factory=list)  # DDL run, in order

    @property
    def empty(self) -> bool:
        return not self.vschemas and not self.statements


def branch_diff(
    client: PlanetScaleClient,
    branch: str,
    desired: DesiredSchema,
    only: Collection[tuple[str, str]] | None = None,
) -> SchemaDiff:
    """Fetch the branch's schema (per keyspace, and its VSchema where the plan has one) and
    compare it with the desired schema; ``only``: the (keyspace, table)s to compare. A keyspace
    of the plan that the branch lacks is a rejection: no DDL could land there."""
    missing = sorted(set(desired.keyspaces) - set(client.keyspaces(branch)))
    if missing:
        raise EngineRejected(
            f"branch {branch} has no keyspace {', '.join(missing)} that the plan changes"
        )
    diffs = []
    for name, keyspace in desired.keyspaces.items():
        tables = client.branch_schema(branch, name)
        vschema = client.vschema(branch, name) if keyspace.vschema is not None else None
        names = None if only is None else {table for k, table in only if k == name}
        try:
            diffs.append(diff_keyspace(keyspace, tables, vschema, names))
        except ValueError as exc:
            raise EngineRejected(f"branch {branch}: {exc}") from None
    return diff_schema(desired, diffs)


def statements_for(diff: SchemaDiff, planned: PlannedDDL) -> list[tuple[str, str]]:
    """(keyspace, DDL) for every table not at its desired shape; a table the plan has no DDL
    for means the plan and its schema files disagree, and nothing is run."""
    missing = sorted(f"{k}.{t}" for k, t in diff.tables() if (k, t) not in planned)
    if missing:
        raise EngineRejected(
            "the plan has no DDL for table(s) that differ from its schema files: "
            + ", ".join(missing)
        )
    ordered = [(k.keyspace, t) for k in diff.keyspaces for t in k.tables]
    return [(keyspace, planned[(keyspace, table)]) for keyspace, table in ordered]


class BranchWriter:
    """Applies a diff to one branch. ``driver`` is the MySQL module (``branch_sql``)."""

    def __init__(
        self,
        client: PlanetScaleClient,
        branch: str,
        *,
        password_ttl: int,
        timeout: float,
        on_statement: StatementHook = lambda when: None,
        driver: ModuleType | None = None,
    ) -> None:
        self.client = client
        self.branch = branch
        self.password_ttl = password_ttl
        self.timeout = timeout
        self.on_statement = on_statement
        self.driver = driver or mysql_driver()

    def apply(self, diff: SchemaDiff, planned: PlannedDDL) -> BranchChanges:
        statements = statements_for(diff, planned)
        done = BranchChanges()
        for keyspace in diff.keyspaces:  # VSchema first: vtgate routes the DDL by it
            if keyspace.vschema is not None:
                self.client.update_vschema(self.branch, keyspace.keyspace, keyspace.vschema)
                done.vschemas.append(keyspace.keyspace)
        if statements:
            self._run_ddl(statements, done)
        return done

    def _run_ddl(self, statements: list[tuple[str, str]], done: BranchChanges) -> None:
        name = f"ternadmin-{uuid.uuid4().hex[:12]}"
        password = self.client.create_password(self.branch, name, self.password_ttl)
        try:
            for keyspace, group in _by_keyspace(statements).items():
                with BranchConnection(
                    password, keyspace, timeout=self.timeout, driver=self.driver
                ) as connection:
                    for statement in group:
                        self.on_statement("before")
                        connection.execute(statement)
                        done.statements.append(statement)
                        self.on_statement("after")
        finally:
            self._delete_password(password.id)

    def _delete_password(self, password_id: str) -> None:
        try:
            self.client.delete_password(self.branch, password_id)
        except EngineError as exc:  # it expires on its own; do not hide the real outcome
            logger.warning("branch %s: could not delete password: %s", self.branch, exc)


def _by_keyspace(statements: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for keyspace, statement in statements:
        grouped.setdefault(keyspace, []).append(statement)
    return grouped
