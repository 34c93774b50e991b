"""SchemaBot's tables in the two modes.

*Standalone* (demo, tests): ternadmin creates the tables itself, shaped like SchemaBot's DDL and
with its index names, because the claim and list queries are written for those indexes.
*Attach* (production): SchemaBot created them. Nothing here issues DDL then; we only read the
catalogue and refuse to start when a table or column we use is missing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from applies.models import SCHEMABOT_MODELS, SchemaBotTable, TableIndex
from ternadmin.config import ATTACH, STANDALONE


def index_name(
    connection: BaseDatabaseWrapper, model: type[SchemaBotTable], index: TableIndex
) -> str:
    # MySQL scopes index names to their table, as SchemaBot relies on (idx_repo_pr is on four
    # tables); SQLite scopes them to the database, so there they carry the table's name.
    if connection.vendor == "sqlite":
        return f"{model._meta.db_table}__{index.name}"
    return index.name


def create_standalone_tables(using: str) -> list[str]:
    """Create the SchemaBot tables that are missing in ``using``; return the names created."""
    if settings.SCHEMABOT_MODE != STANDALONE:
        raise ImproperlyConfigured("Refusing to create SchemaBot tables outside standalone mode.")
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    missing = [model for model in SCHEMABOT_MODELS if model._meta.db_table not in existing]
    if not missing:
        return []
    with connection.schema_editor() as editor:
        for model in missing:
            editor.create_model(model)
            for index in model.table_indexes:
                editor.execute(_create_index_sql(connection, model, index))
    return [model._meta.db_table for model in missing]


def _create_index_sql(
    connection: BaseDatabaseWrapper, model: type[SchemaBotTable], index: TableIndex
) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in index.columns)
    unique = "UNIQUE " if index.unique else ""
    name = quote(index_name(connection, model, index))
    return f"CREATE {unique}INDEX {name} ON {quote(model._meta.db_table)} ({columns})"


def schema_problems(using: str) -> list[str]:
    """Tables and columns ternadmin needs that ``using`` lacks (read-only catalogue queries)."""
    connection = connections[using]
    problems: list[str] = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for model in SCHEMABOT_MODELS:
            table = model._meta.db_table
            if table not in tables:
                problems.append(f"table `{table}` is missing")
                continue
            present = {
                c.name for c in connection.introspection.get_table_description(cursor, table)
            }
            problems.extend(
                f"column `{table}.{field.column}` is missing"
                for field in model._meta.concrete_fields
                if field.column not in present
            )
    return problems


def missing_indexes(using: str) -> list[str]:
    """SchemaBot indexes the claim and list queries expect but ``using`` lacks."""
    connection = connections[using]
    missing: list[str] = []
    with connection.cursor() as cursor:
        for model in SCHEMABOT_MODELS:
            table = model._meta.db_table
            present = set(connection.introspection.get_constraints(cursor, table))
            missing.extend(
                f"{table}.{index.name}"
                for index in model.table_indexes
                if index_name(connection, model, index) not in present
            )
    return missing


def verify_attached_schema_or_raise() -> None:
    """In attach mode, refuse to run against a database that lacks what ternadmin reads."""
    if settings.SCHEMABOT_MODE != ATTACH:
        return
    try:
        problems = schema_problems(settings.SCHEMABOT_DATABASE)
    except DatabaseError as exc:
        raise ImproperlyConfigured(f"Cannot read SchemaBot's database: {exc}") from exc
    if problems:
        raise ImproperlyConfigured(
            "SchemaBot's database is not usable (SCHEMABOT_MODE=attach): " + "; ".join(problems)
        )
