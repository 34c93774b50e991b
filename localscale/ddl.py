"""DDL as LocalScale understands it, through sqlglot's MySQL dialect (no hand-written parser).

Three uses: comparing two schemas (a deploy request's diff), naming and rewriting tables for the
online-DDL-like deploy, and the schema-only model that stands in for a MySQL server in the demo
(CREATE / ALTER / DROP TABLE applied to stored ``CREATE TABLE`` statements).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

DIALECT = "mysql"
_AUTO_INCREMENT = re.compile(r"\s+AUTO_INCREMENT=\d+", re.IGNORECASE)

# MySQL's own error numbers, so a client sees what a server would have said.
ER_TABLE_EXISTS = 1050
ER_BAD_TABLE = 1051
ER_NO_SUCH_TABLE = 1146
ER_DUP_FIELDNAME = 1060
ER_DUP_KEYNAME = 1061
ER_CANT_DROP_FIELD_OR_KEY = 1091
ER_PARSE_ERROR = 1064
ER_NOT_SUPPORTED_YET = 1235


class DDLError(Exception):
    """A statement the schema model refuses, with the MySQL error number a server would use."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(statement: str) -> exp.Expression:
    try:
        parsed = sqlglot.parse_one(statement, read=DIALECT)
    except ParseError as exc:
        detail = exc.errors[0].get("description") if exc.errors else "cannot parse it"
        raise DDLError(ER_PARSE_ERROR, f"You have an error in your SQL syntax: {detail}") from None
    if not isinstance(parsed, exp.Expression):
        raise DDLError(ER_PARSE_ERROR, "Query was empty")
    return parsed


def create_table(ddl: str) -> exp.Create:
    parsed = parse(ddl)
    if not isinstance(parsed, exp.Create) or not isinstance(parsed.this, exp.Schema):
        raise DDLError(ER_PARSE_ERROR, f"not a CREATE TABLE statement: {ddl[:80]}")
    return parsed


def table_name(create: exp.Create) -> str:
    table = create.this.this if isinstance(create.this, exp.Schema) else create.this
    return str(table.name)


def render(create: exp.Create) -> str:
    """The ``SHOW CREATE TABLE`` text of the schema model."""
    clean = create.copy()
    clean.set("exists", False)
    return clean.sql(dialect=DIALECT, pretty=True)


def without_counter(ddl: str) -> str:
    """A ``SHOW CREATE TABLE`` without its moving AUTO_INCREMENT counter."""
    return _AUTO_INCREMENT.sub("", ddl)


def normalized(ddl: str) -> str:
    """The form two ``CREATE TABLE`` statements are compared in: the AUTO_INCREMENT counter
    dropped, and, where sqlglot parses it, one canonical rendering (so a MariaDB ``SHOW CREATE
    TABLE`` and the statement that made it compare equal where they mean the same)."""
    text = without_counter(ddl).strip().rstrip(";")
    try:
        return create_table(text).sql(dialect=DIALECT, normalize=True)
    except DDLError:
        return " ".join(text.split())


def columns(ddl: str) -> list[str]:
    schema = create_table(ddl).this
    return [str(item.name) for item in schema.expressions if isinstance(item, exp.ColumnDef)]


def column_types(ddl: str) -> dict[str, str]:
    """Column name → its type, as INFORMATION_SCHEMA shows it."""
    schema = create_table(ddl).this
    return {
        str(item.name): item.args["kind"].sql(dialect=DIALECT) if item.args.get("kind") else ""
        for item in schema.expressions
        if isinstance(item, exp.ColumnDef)
    }


def renamed(ddl: str, name: str) -> str:
    """The same ``CREATE TABLE`` for a table called ``name``."""
    create = create_table(ddl)
    create.this.set("this", exp.to_table(f"`{name}`", dialect=DIALECT))
    return create.sql(dialect=DIALECT)


def instant_eligible(operations: list[tuple[str, str | None, str | None]]) -> bool:
    """MySQL's instant DDL covers new tables and added columns: (operation, old, new) each."""
    for operation, old, new in operations:
        if operation == "create":
            continue
        if operation != "alter" or old is None or new is None:
            return False
        before, after = _column_definitions(old), _column_definitions(new)
        if after[: len(before)] != before or _indexes(old) != _indexes(new):
            return False
    return bool(operations)


def _column_definitions(ddl: str) -> list[str]:
    schema = create_table(ddl).this
    return [item.sql(dialect=DIALECT) for item in schema.expressions if _is_column(item)]


def _indexes(ddl: str) -> list[str]:
    schema = create_table(ddl).this
    return sorted(item.sql(dialect=DIALECT) for item in schema.expressions if not _is_column(item))


def _is_column(item: exp.Expression) -> bool:
    return isinstance(item, exp.ColumnDef)


# --- The schema-only model: DDL applied to stored CREATE TABLE statements ----------------------


def apply(tables: Mapping[str, str], statement: str) -> dict[str, str]:
    """``tables`` (name → CREATE TABLE) after running ``statement``, or ``DDLError``."""
    parsed = parse(statement)
    result = dict(tables)
    if isinstance(parsed, exp.Create) and isinstance(parsed.this, exp.Schema):
        _create(result, parsed)
    elif isinstance(parsed, exp.Drop) and (parsed.args.get("kind") or "").upper() == "TABLE":
        _drop(result, parsed)
    elif isinstance(parsed, exp.Alter) and (parsed.args.get("kind") or "").upper() == "TABLE":
        _alter(result, parsed)
    else:
        raise DDLError(
            ER_NOT_SUPPORTED_YET,
            "LocalScale's schema model runs CREATE, ALTER and DROP TABLE only: "
            f"{statement.strip()[:80]}",
        )
    return result


def _create(tables: dict[str, str], create: exp.Create) -> None:
    name = table_name(create)
    if name in tables:
        if create.args.get("exists"):
            return
        raise DDLError(ER_TABLE_EXISTS, f"Table '{name}' already exists")
    tables[name] = render(create)


def _drop(tables: dict[str, str], drop: exp.Drop) -> None:
    names = [str(table.name) for table in drop.args.get("tables") or []]
    unknown = [name for name in names if name not in tables]
    if unknown and not drop.args.get("exists"):
        raise DDLError(ER_BAD_TABLE, f"Unknown table '{', '.join(unknown)}'")
    for name in names:
        tables.pop(name, None)


def _alter(tables: dict[str, str], alter: exp.Alter) -> None:
    name = str(alter.this.name)
    if name not in tables:
        raise DDLError(ER_NO_SUCH_TABLE, f"Table '{name}' doesn't exist")
    create = create_table(tables[name])
    schema = create.this
    for action in alter.args.get("actions") or []:
        _alter_action(schema, action)
    tables[name] = render(create)


def _alter_action(schema: exp.Schema, action: exp.Expression) -> None:
    items: list[exp.Expression] = list(schema.expressions)
    if isinstance(action, exp.ColumnDef):
        if _column_index(items, action.name) is not None:
            raise DDLError(ER_DUP_FIELDNAME, f"Duplicate column name '{action.name}'")
        last_column = max((i for i, item in enumerate(items) if _is_column(item)), default=-1)
        items.insert(last_column + 1, action.copy())
    elif isinstance(action, exp.ModifyColumn):
        old_name = action.args.get("rename_from") or action.this.this
        index = _column_index(items, str(old_name.name))
        if index is None:
            raise DDLError(ER_CANT_DROP_FIELD_OR_KEY, f"Unknown column '{old_name.name}'")
        items[index] = action.this.copy()
    elif isinstance(action, exp.Drop):
        items = _drop_part(items, action)
    elif isinstance(action, exp.AddConstraint):
        for index in action.expressions:
            if _index_name(index) and _index_position(items, _index_name(index)) is not None:
                raise DDLError(ER_DUP_KEYNAME, f"Duplicate key name '{_index_name(index)}'")
            items.append(index.copy())
    else:
        raise DDLError(
            ER_NOT_SUPPORTED_YET,
            f"LocalScale's schema model cannot run this ALTER TABLE part: {action.sql()[:80]}",
        )
    schema.set("expressions", items)


def _drop_part(items: list[exp.Expression], action: exp.Drop) -> list[exp.Expression]:
    kind = (action.args.get("kind") or "").upper()
    for target in action.args.get("tables") or []:
        name = str(target.name)
        position = _column_index(items, name) if kind == "COLUMN" else _index_position(items, name)
        if position is None:
            raise DDLError(ER_CANT_DROP_FIELD_OR_KEY, f"Can't DROP '{name}'; check that it exists")
        del items[position]
    return items


def _column_index(items: list[exp.Expression], name: str) -> int | None:
    for index, item in enumerate(items):
        if _is_column(item) and str(item.name).lower() == name.lower():
            return index
    return None


def _index_name(item: exp.Expression) -> str:
    this = item.this if isinstance(item.this, exp.Expression) else None
    if isinstance(this, exp.Schema):
        this = this.this
    return str(this.name) if isinstance(this, exp.Identifier) else ""


def _index_position(items: list[exp.Expression], name: str) -> int | None:
    for index, item in enumerate(items):
        if not _is_column(item) and _index_name(item).lower() == name.lower():
            return index
    return None


def change_statement(table: str, operation: str, old: str | None, new: str | None) -> str:
    """The DDL a deploy operation shows: the CREATE, a DROP, or an ALTER built from the two
    shapes (columns added, dropped or changed; indexes dropped and added)."""
    if operation == "create" and new is not None:
        return new
    if operation == "drop" or new is None or old is None:
        return f"DROP TABLE `{table}`"
    before, after = create_table(old).this.expressions, create_table(new).this.expressions
    old_columns = {str(i.name): i.sql(dialect=DIALECT) for i in before if _is_column(i)}
    new_columns = {str(i.name): i.sql(dialect=DIALECT) for i in after if _is_column(i)}
    parts = [f"DROP COLUMN `{name}`" for name in old_columns if name not in new_columns]
    for name, definition in new_columns.items():
        if name not in old_columns:
            parts.append(f"ADD COLUMN {definition}")
        elif old_columns[name] != definition:
            parts.append(f"MODIFY COLUMN {definition}")
    old_indexes = {i.sql(dialect=DIALECT): i for i in before if not _is_column(i)}
    new_indexes = {i.sql(dialect=DIALECT): i for i in after if not _is_column(i)}
    for text, index in old_indexes.items():
        if text not in new_indexes:
            name = _index_name(index)
            parts.append(f"DROP INDEX `{name}`" if name else "DROP PRIMARY KEY")
    parts.extend(f"ADD {text}" for text in new_indexes if text not in old_indexes)
    return f"ALTER TABLE `{table}` " + ", ".join(parts or ["ENGINE=InnoDB"])
