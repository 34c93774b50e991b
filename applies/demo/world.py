"""The fleet the demo applies run on: databases with their schema and pending changes, the
targets (database, environment, deployment) applies run against, and one lock per database."""

from __future__ import annotations

import random

from applies.demo.catalogue import (
    ALTER,
    CREATE,
    DATABASES,
    DEFAULT_DEPLOYMENT,
    DROP,
    ENVIRONMENTS,
    MULTI_REGION,
    NEW_COLUMNS,
    REPOSITORIES,
    TABLES,
)
from applies.demo.clock import DAY, HOUR, Clock
from applies.demo.formats import to_json
from applies.demo.shapes import Change, Database, Target
from applies.demo.writer import Row
from applies.vocabulary import Engine


class World:
    """Built from the seeded RNG before any apply, so every apply draws from the same fleet."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        named = [(engine, name) for engine, names in DATABASES.items() for name in names]
        self.databases = [self._database(i, e, n) for i, (e, n) in enumerate(named, start=1)]
        self.targets = {engine: self._targets(engine) for engine in DATABASES}

    def _database(self, lock_id: int, engine: Engine, name: str) -> Database:
        tables = self.rng.sample(TABLES, 4)
        changes = tuple(self._change(table) for table in tables)
        repository = REPOSITORIES[lock_id % len(REPOSITORIES)]
        vschema = to_json({"sharded": False, "tables": {t: {} for t in tables}})
        before = {table: _create(table) for table in tables}
        # A table a change drops exists before it.
        before.update({c.table: _create(c.table) for c in changes if c.action == DROP})
        return Database(
            lock_id, name, engine, repository, changes, before,
            vschema if engine == Engine.PLANETSCALE else None,
        )  # fmt: skip

    def _change(self, table: str) -> Change:
        """One pending change, with the table's CREATE statement once it is made."""
        roll, column = self.rng.random(), self.rng.choice(NEW_COLUMNS)
        if roll < 0.12:
            archive = _create(f"{table}_archive", "`payload` json NOT NULL")
            return Change(f"{table}_archive", CREATE, archive, archive)
        if roll < 0.18:
            return Change(f"{table}_legacy", DROP, f"DROP TABLE `{table}_legacy`", None)
        added = f"`{column}` varchar(64) NOT NULL DEFAULT ''"
        if roll < 0.6:
            ddl = f"ALTER TABLE `{table}` ADD COLUMN {added}"
            return Change(table, ALTER, ddl, _create(table, added))
        index = f"KEY `idx_{column}` (`{column}`)"
        ddl = f"ALTER TABLE `{table}` ADD COLUMN {added}, ADD INDEX `idx_{column}` (`{column}`)"
        return Change(table, ALTER, ddl, _create(table, added, index))

    def _targets(self, engine: Engine) -> list[Target]:
        targets = []
        for database in (d for d in self.databases if d.engine == engine):
            regional = database.lock_id % 4 == 0
            for deployment in MULTI_REGION if regional else (DEFAULT_DEPLOYMENT,):
                targets += [Target(database, env, deployment) for env in ENVIRONMENTS]
        return targets

    def lock_rows(self, clock: Clock) -> list[Row]:
        # SchemaBot allows one lock row per database (UNIQUE idx_database), so a database's
        # applies share one; it names the pull request holding it now.
        rows: list[Row] = []
        for db in self.databases:
            pr, at = self.rng.randint(100, 9000), clock.at(self.rng.randint(HOUR, 30 * DAY))
            owner = f"{db.repository}#{pr}"
            rows.append(
                (db.lock_id, db.name, db.database_type, db.repository, pr, owner, "", at, at)
            )
        return rows


def _create(table: str, *extra: str) -> str:
    """A demo table: an id, a creation time, and whatever a change adds."""
    columns = ["`id` bigint unsigned NOT NULL AUTO_INCREMENT", "`created_at` datetime NOT NULL"]
    body = ",\n  ".join([*columns, *extra[:1], "PRIMARY KEY (`id`)", *extra[1:]])
    return f"CREATE TABLE `{table}` (\n  {body}\n)"


def production_schemas(world: World) -> dict[str, dict[str, dict[str, object]]]:
    """Per PlanetScale database of the fleet, its production schema before any demo change:
    ``{database: {keyspace: {"tables": [CREATE …], "vschema": …}}}`` (one keyspace each)."""
    return {
        db.name: {db.name: {"tables": list(db.before.values()), "vschema": db.vschema}}
        for db in world.databases
        if db.engine == Engine.PLANETSCALE
    }
