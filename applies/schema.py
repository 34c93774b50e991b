"""SchemaBot's tables in the two modes.

*Standalone* (demo, tests): ternadmin creates the tables itself, shaped like SchemaBot's DDL and
with its index names, because the claim and list queries are written for those indexes; with
the columns and indexes of the configured SchemaBot line (``applies.lines``) too.
*Attach* (production): SchemaBot created them. Nothing here issues DDL then; we only read the
catalogue and refuse to start when a table or column we use, or the configured line needs, is
missing, naming it and the setting.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from applies import db
from applies.lines import SETTING, Column, Line, LineName, current_line
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


def table_indexes(model: type[SchemaBotTable], line: Line) -> tuple[TableIndex, ...]:
    """The model's indexes as the line's DDL has them (a line may reshape or add some)."""
    extra = line.indexes.get(model._meta.db_table, ())
    reshaped = {index.name for index in extra}
    return tuple(i for i in model.table_indexes if i.name not in reshaped) + tuple(extra)


def create_standalone_tables(using: str) -> list[str]:
    """Create the SchemaBot tables that are missing in ``using``, and the columns the
    configured line adds to any of them; return the names of the tables created."""
    if settings.SCHEMABOT_MODE != STANDALONE:
        raise ImproperlyConfigured("Refusing to create SchemaBot tables outside standalone mode.")
    connection = connections[using]
    line = current_line()
    existing = set(connection.introspection.table_names())
    missing = [model for model in SCHEMABOT_MODELS if model._meta.db_table not in existing]
    absent = [c for c in line.columns if c.table not in existing or not _has(connection, c)]
    if not missing and not absent:
        return []
    quote = connection.ops.quote_name
    with connection.schema_editor() as editor:
        for model in missing:
            editor.create_model(model)
        for column in absent:
            definition = column.sqlite if connection.vendor == "sqlite" else column.mysql
            editor.execute(
                f"ALTER TABLE {quote(column.table)} ADD COLUMN {quote(column.name)} {definition}"
            )
        for model in missing:
            for index in table_indexes(model, line):
                editor.execute(_create_index_sql(connection, model, index))
    return [model._meta.db_table for model in missing]


def _has(connection: BaseDatabaseWrapper, column: Column) -> bool:
    with connection.cursor() as cursor:
        described = connection.introspection.get_table_description(cursor, column.table)
    return column.name in {c.name for c in described}


def _create_index_sql(
    connection: BaseDatabaseWrapper, model: type[SchemaBotTable], index: TableIndex
) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in index.columns)
    unique = "UNIQUE " if index.unique else ""
    name = quote(index_name(connection, model, index))
    return f"CREATE {unique}INDEX {name} ON {quote(model._meta.db_table)} ({columns})"


def schema_problems(using: str) -> list[str]:
    """Tables and columns ternadmin needs that ``using`` lacks (read-only catalogue queries):
    those of its models, and those the configured SchemaBot line has."""
    connection = connections[using]
    line = current_line()
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
            problems.extend(
                f"column `{column.qualified}` is missing: {SETTING}={line.name} expects "
                f"{line.title}'s tables (set {SETTING}={LineName.B2349EA} for an older SchemaBot)"
                for column in line.columns
                if column.table == table and column.name not in present
            )
    return problems


def missing_indexes(using: str) -> list[str]:
    """SchemaBot indexes the claim and list queries expect but ``using`` lacks."""
    connection = connections[using]
    line = current_line()
    missing: list[str] = []
    with connection.cursor() as cursor:
        for model in SCHEMABOT_MODELS:
            table = model._meta.db_table
            present = set(connection.introspection.get_constraints(cursor, table))
            missing.extend(
                f"{table}.{index.name}"
                for index in table_indexes(model, line)
                if index_name(connection, model, index) not in present
            )
    return missing


def verify_attached_schema_or_raise() -> None:
    """In attach mode, refuse to run against a database that lacks what ternadmin reads."""
    if settings.SCHEMABOT_MODE != ATTACH:
        return
    try:
        problems = schema_problems(db.alias())
    except DatabaseError as exc:
        raise ImproperlyConfigured(f"Cannot read SchemaBot's database: {exc}") from exc
    if problems:
        raise ImproperlyConfigured(
            "SchemaBot's database is not usable (SCHEMABOT_MODE=attach): " + "; ".join(problems)
        )
