"""The values the generator passes between its steps: the fleet, the applies it plans, and an
apply being turned into rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from applies.demo.catalogue import DATABASE_TYPE, Kind
from applies.demo.clock import Clock
from applies.demo.formats import to_json
from applies.vocabulary import DatabaseType, Engine


@dataclass(frozen=True)
class Change:
    table: str
    action: str
    ddl: str
    after: str | None  # the table's CREATE statement once changed; None when dropped


@dataclass
class Database:
    lock_id: int
    name: str
    engine: Engine
    repository: str
    changes: tuple[Change, ...]
    before: dict[str, str]  # table -> CREATE statement: the production schema
    vschema: str | None  # PlanetScale: the keyspace's VSchema (no change touches it)
    plan_data: dict[tuple[int, ...], str] = field(default_factory=dict)  # cache by changes
    schema_files: dict[tuple[int, ...], str] = field(default_factory=dict)  # cache by changes

    def desired(self, changes: tuple[int, ...]) -> str:
        """``plans.schema_files`` of a plan making ``changes``: the schema after them, as
        SchemaBot stores it (one keyspace named after the database, ``{"Files": …}``)."""
        if (cached := self.schema_files.get(changes)) is None:
            tables = dict(self.before)
            for change in (self.changes[i] for i in changes):
                if change.after is None:
                    tables.pop(change.table, None)
                else:
                    tables[change.table] = change.after
            files = {f"{name}.sql": f"{ddl};\n" for name, ddl in sorted(tables.items())}
            if self.vschema is not None:
                files["vschema.json"] = self.vschema
            cached = self.schema_files[changes] = to_json({self.name: {"Files": files}})
        return cached

    deploy_requests: int = 0  # last deploy-request number handed out

    @property
    def database_type(self) -> DatabaseType:
        return DATABASE_TYPE[self.engine]


@dataclass(frozen=True)
class Target:
    """Where an apply runs; SchemaBot allows one non-terminal apply per target (docs/schemabot.md,
    "The target lock")."""

    database: Database
    environment: str
    deployment: str


@dataclass
class Spec:
    """One apply to generate. Times are seconds before the database clock."""

    state: str
    target: Target
    kind: Kind
    created_ago: int
    started_ago: int | None
    updated_ago: int
    completed_ago: int | None
    attempt: int = 0
    detail: bool = True

    @property
    def engine(self) -> Engine:
        return self.target.database.engine


@dataclass(frozen=True)
class Lease:
    owner: str = ""
    token: str = ""
    acquired_ago: int | None = None


class Times(NamedTuple):
    """An apply's timestamps, formatted once and shared by its operation and tasks."""

    lease_acquired: str | None
    started: str | None
    completed: str | None
    created: str | None
    updated: str | None


@dataclass(frozen=True)
class Prepared:
    """An apply being turned into rows: its spec plus what its child rows share."""

    id: int
    spec: Spec
    clock: Clock  # the reading its times count back from
    identifier: str
    plan_identifier: str
    changes: tuple[int, ...]  # indexes into its database's changes, one task each
    options: dict[str, object]
    options_json: str
    path: list[str]  # the states it went through, ending in its own
    path_agos: list[int]  # when it entered each
    lease: Lease
    times: Times
    instant: bool
    error: str | None
    pull_request: int
