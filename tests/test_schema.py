"""Standalone mode creates SchemaBot's tables itself; they must be the tables SchemaBot creates."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test import override_settings

from applies.models import SCHEMABOT_MODELS
from applies.schema import create_standalone_tables, missing_indexes, schema_problems
from tests.helpers import (
    clean_environ,
    database_name,
    load_ddl,
    mysql_url,
    run_manage,
    schema_snapshot,
    scratch_database,
)
from tests.test_attach import NEWER_SCHEMABOT_COLUMNS

SCHEMABOT = ["default", "schemabot"]


@pytest.mark.django_db(databases=SCHEMABOT)
def test_standalone_tables_have_every_column_and_index() -> None:
    assert schema_problems(settings.SCHEMABOT_DATABASE) == []
    assert missing_indexes(settings.SCHEMABOT_DATABASE) == []


@pytest.mark.mariadb
@pytest.mark.django_db(databases=SCHEMABOT)
@pytest.mark.parametrize("line", ["b2349ea", "current"])
def test_standalone_ddl_is_schemabots_ddl(
    schemabot_ddl: dict[str, str], tmp_path: object, line: str
) -> None:
    """Standalone tables for a line are SchemaBot's tables of that line: b2349ea's DDL, and for
    current upstream that DDL with upstream's later columns and keys."""
    tables = {model._meta.db_table for model in SCHEMABOT_MODELS}
    assert set(schemabot_ddl) == tables
    prefix = f"{settings.DATABASES['schemabot']['NAME']}_ddl"
    with scratch_database(prefix) as ours, scratch_database(prefix) as reference:
        env = clean_environ(
            TERNADMIN_DATABASE_URL=f"sqlite:///{tmp_path}/ternadmin.sqlite3",
            SCHEMABOT_DATABASE_URL=mysql_url(database_name(ours)),
            SCHEMABOT_MODE="standalone",
            TERNADMIN_DEMO="1",
            TERNADMIN_SCHEMABOT_LINE=line,
        )
        migrate = run_manage("migrate", "--database", "schemabot", "--no-input", env=env)
        assert migrate.returncode == 0, migrate.stderr
        load_ddl(reference, schemabot_ddl)
        if line == "current":
            for statement in NEWER_SCHEMABOT_COLUMNS[:2]:  # applies, apply_operations
                reference.cursor().execute(statement)
        mine, theirs = schema_snapshot(ours), schema_snapshot(reference)
    assert {t: mine[t] for t in tables} == theirs


@pytest.mark.django_db(databases=SCHEMABOT)
def test_creating_tables_again_is_a_no_op() -> None:
    assert create_standalone_tables(settings.SCHEMABOT_DATABASE) == []


@pytest.mark.django_db(databases=SCHEMABOT)
def test_no_table_creation_in_attach_mode() -> None:
    with (
        override_settings(SCHEMABOT_MODE="attach"),
        pytest.raises(ImproperlyConfigured, match="outside standalone mode"),
    ):
        create_standalone_tables(settings.SCHEMABOT_DATABASE)


@pytest.mark.mariadb
@pytest.mark.django_db(databases=SCHEMABOT)
@pytest.mark.parametrize("alias", SCHEMABOT)
def test_mariadb_sessions_are_utc_utf8mb4_strict_read_committed(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT @@session.time_zone, @@session.sql_mode, @@character_set_connection, "
            "@@session.tx_isolation"
        )
        time_zone, sql_mode, charset, isolation = cursor.fetchone()
    assert time_zone == "+00:00"
    assert "STRICT_TRANS_TABLES" in sql_mode
    assert charset == "utf8mb4"
    assert isolation == "READ-COMMITTED"
