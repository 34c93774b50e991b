"""Attach mode against a database created by SchemaBot's own DDL: read and write every model,
and prove ternadmin issued no DDL there (the schema is identical before and after)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from tests.helpers import (
    clean_environ,
    database_name,
    load_ddl,
    mysql_url,
    run_manage,
    run_python,
    schema_snapshot,
    scratch_database,
)

pytestmark = pytest.mark.mariadb

# Columns a newer SchemaBot (current upstream, fe94b2c; docs/schemabot.md, "Tables") adds;
# ternadmin must not mind them.
NEWER_SCHEMABOT_COLUMNS = (
    "ALTER TABLE applies ADD COLUMN idempotency_key varchar(255) NULL, "
    "ADD COLUMN revert_skipped_at datetime NULL, ADD UNIQUE KEY idx_idempotency_key "
    "(idempotency_key)",
    "ALTER TABLE apply_operations ADD COLUMN operation_key varchar(255) NOT NULL DEFAULT '', "
    "ADD COLUMN operation_kind varchar(32) NOT NULL DEFAULT 'work', "
    "ADD COLUMN external_id varchar(255) NULL, ADD COLUMN external_operation_id varchar(255) NULL, "
    "ADD COLUMN attempt int NOT NULL DEFAULT 0, DROP INDEX idx_apply_operation, "
    "ADD UNIQUE KEY idx_apply_operation (apply_id, deployment, operation_key), "
    "ADD KEY idx_apply_created_id (apply_id, created_at, id)",
    "ALTER TABLE tasks ADD COLUMN shard varchar(255) NOT NULL DEFAULT '', "
    "ADD COLUMN checksum_rows_checked bigint DEFAULT 0, "
    "ADD COLUMN checksum_rows_total bigint DEFAULT 0, "
    "ADD COLUMN cutover_attempts int NOT NULL DEFAULT 0",
)


def attach_environ(
    schemabot_database: str, tmp_path: object, line: str = "current"
) -> dict[str, str]:
    return clean_environ(
        TERNADMIN_DATABASE_URL=f"sqlite:///{tmp_path}/ternadmin.sqlite3",
        SCHEMABOT_DATABASE_URL=mysql_url(schemabot_database),
        TERNADMIN_SECRET_KEY="attach-test-" + "k" * 50,
        TERNADMIN_ALLOWED_HOSTS="localhost",
        TERNADMIN_SCHEMABOT_LINE=line,
    )


def scratch_prefix() -> str:
    """Scratch databases take their prefix from this run's test database (no collisions)."""
    return f"{settings.DATABASES['schemabot']['NAME']}_attach"


def attach_and_exercise(env: dict[str, str]) -> dict[str, object]:
    migrate = run_manage("migrate", "--no-input", env=env)
    assert migrate.returncode == 0, migrate.stderr
    check = run_manage("check", "--database", "schemabot", env=env)
    assert check.returncode == 0, check.stderr
    refused = run_manage("migrate", "--database", "schemabot", "--no-input", env=env)
    assert refused.returncode != 0
    assert "never runs migrations against SchemaBot's database" in refused.stderr
    roundtrip = run_python("-m", "tests.attach_roundtrip", env=env)
    assert roundtrip.returncode == 0, roundtrip.stderr
    report: dict[str, object] = json.loads(roundtrip.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    ("newer_columns", "line"),
    [(False, "b2349ea"), (True, "b2349ea"), (True, "current")],
    ids=["b2349ea", "newer-schemabot-b2349ea-line", "newer-schemabot"],
)
def test_attach_reads_and_writes_every_model_without_ddl(
    schemabot_ddl: dict[str, str], tmp_path: object, newer_columns: bool, line: str
) -> None:
    with scratch_database(scratch_prefix()) as connection:
        load_ddl(connection, schemabot_ddl)
        if newer_columns:
            for statement in NEWER_SCHEMABOT_COLUMNS:
                connection.cursor().execute(statement)
        before = schema_snapshot(connection)

        report = attach_and_exercise(attach_environ(database_name(connection), tmp_path, line))

        assert schema_snapshot(connection) == before  # no table, column or index changed
        assert "django_migrations" not in before
    tables = {
        "applies",
        "apply_operations",
        "tasks",
        "apply_logs",
        "apply_control_requests",
        "locks",
        "plans",
    }
    assert {name for name in report if name in tables} == tables
    assert all(report[name]["created_at_set"] for name in tables)  # type: ignore[index]
    assert report["json_roundtrip"] is True
    assert report["updated"] == 1
    assert report["deleted"] == 7


def test_attach_refuses_to_start_when_a_column_is_missing(
    schemabot_ddl: dict[str, str], tmp_path: object
) -> None:
    with scratch_database(scratch_prefix()) as connection:
        load_ddl(connection, schemabot_ddl)
        connection.cursor().execute("ALTER TABLE applies DROP COLUMN lease_token")
        connection.cursor().execute("DROP TABLE apply_logs")
        before = schema_snapshot(connection)
        env = attach_environ(database_name(connection), tmp_path, "b2349ea")

        check = run_manage("check", "--database", "schemabot", env=env)
        migrate = run_manage("migrate", "--no-input", env=env)
        # The WSGI module is what gunicorn and runserver load: it must refuse too.
        server = run_python("-c", "import ternadmin.wsgi", env=env)

        assert schema_snapshot(connection) == before
    for result in (check, migrate):
        assert result.returncode != 0
        assert "column `applies.lease_token` is missing" in result.stderr
        assert "table `apply_logs` is missing" in result.stderr
    assert server.returncode != 0
    assert "column `applies.lease_token` is missing" in server.stderr


def test_attach_to_b2349ea_tables_with_the_current_line_names_the_column_and_the_setting(
    schemabot_ddl: dict[str, str], tmp_path: object
) -> None:
    with scratch_database(scratch_prefix()) as connection:
        load_ddl(connection, schemabot_ddl)
        before = schema_snapshot(connection)
        env = attach_environ(database_name(connection), tmp_path, "current")

        check = run_manage("check", "--database", "schemabot", env=env)
        server = run_python("-c", "import ternadmin.wsgi", env=env)

        assert schema_snapshot(connection) == before  # attach mode never adds the columns
    for result in (check, server):
        assert result.returncode != 0
        assert (
            "column `apply_operations.attempt` is missing: TERNADMIN_SCHEMABOT_LINE=current "
            "expects current upstream SchemaBot's tables (set TERNADMIN_SCHEMABOT_LINE=b2349ea "
            "for an older SchemaBot)"
        ) in result.stderr
    assert "Traceback" not in check.stderr
