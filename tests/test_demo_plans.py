"""The demo's plans agree with themselves: production's schema plus the tasks' DDL is exactly
the plan's schema files, checked by running the DDL on MariaDB and diffing like a drive does."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from django.db import connections

from applies.demo.world import World
from applies.engines.planetscale.diff import diff_keyspace
from applies.engines.planetscale.schema_files import desired_schema
from applies.engines.planetscale.types import SchemaTable
from applies.vocabulary import Engine
from tests.helpers import schema_snapshot, scratch_database

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(databases=["default", "schemabot"])]


def test_every_planetscale_change_set_lands_on_its_schema_files() -> None:
    world = World(random.Random(7))
    databases = [db for db in world.databases if db.engine == Engine.PLANETSCALE][:4]
    prefix = connections["schemabot"].settings_dict["NAME"][:40]
    checked = 0
    for db in databases:
        subsets = [c for n in (1, 2) for c in itertools.combinations(range(len(db.changes)), n)]
        for changes in subsets[:6]:
            with scratch_database(f"{prefix}_demo") as connection:
                cursor = connection.cursor()
                for ddl in db.before.values():
                    cursor.execute(ddl)
                for index in changes:
                    cursor.execute(db.changes[index].ddl)
                tables = [SchemaTable(n, raw) for n, raw in schema_snapshot(connection).items()]
            desired = desired_schema(db.desired(changes)).keyspaces[db.name]
            diff = diff_keyspace(desired, tables, desired.vschema)
            assert diff.empty, (db.name, changes, diff)
            checked += 1
    assert checked >= 12
    files = json.loads(databases[0].desired((0,)))[databases[0].name]["Files"]
    assert "vschema.json" in files and all(
        name.endswith(".sql") for name in files if name != "vschema.json"
    )
