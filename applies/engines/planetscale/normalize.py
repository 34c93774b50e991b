"""A table's shape from its CREATE TABLE statement, so two statements can be compared (sqlglot).

The same table reads very differently depending on who wrote it: a hand-written schema file,
MariaDB's ``SHOW CREATE TABLE`` or MySQL 8's. The shape keeps what the table *is* and drops how
it was spelled: quoting and the case of keywords, types and identifiers; integer display widths
(``bigint(20)`` is ``bigint``) and ``bool`` (``tinyint``); MariaDB's ``longtext … CHECK
(json_valid(…))`` for ``json``; quoted versus bare default literals (``'0'`` is ``0``); an
implicit ``DEFAULT NULL``; ``current_timestamp()`` versus ``CURRENT_TIMESTAMP``; the order of
indexes; table options (ENGINE, CHARSET, COLLATE, AUTO_INCREMENT, ROW_FORMAT, COMMENT) and
column character sets, collations and comments. Column order is kept: it is part of the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

DIALECT = "mysql"
_T = exp.DataType.Type
_INTEGERS = frozenset(
    {
        _T.TINYINT, _T.UTINYINT, _T.SMALLINT, _T.USMALLINT, _T.MEDIUMINT, _T.UMEDIUMINT,
        _T.INT, _T.UINT, _T.BIGINT, _T.UBIGINT, _T.BOOLEAN,
    }
)  # fmt: skip
# Spelled differently, stored the same.
_ALIASES = {_T.BOOLEAN: _T.TINYINT, _T.TIMESTAMPTZ: _T.TIMESTAMP}
# Constraints that say nothing about the table's shape.
_COSMETIC = (
    exp.CharacterSetColumnConstraint,
    exp.CollateColumnConstraint,
    exp.CommentColumnConstraint,
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    extra: tuple[str, ...]  # auto_increment, on update …, other constraints, sorted


@dataclass(frozen=True)
class Index:
    kind: str  # "unique" | "index" | "fulltext" | "spatial"
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: frozenset[Index]
    constraints: frozenset[str]  # foreign keys, checks: their canonical SQL


def parse_create_tables(text: str) -> list[TableShape]:
    """Every CREATE TABLE in ``text``; anything else in it is an error (``ValueError``, also for
    text sqlglot cannot even tokenise, such as an unterminated quote or comment)."""
    try:
        statements = [s for s in sqlglot.parse(text, dialect=DIALECT) if s is not None]
        return [_shape(statement) for statement in statements if isinstance(statement, exp.Expr)]
    except SqlglotError as exc:
        raise ValueError(f"cannot parse: {_first_line(str(exc))}") from None


def table_shape(create_table: str) -> TableShape:
    shapes = parse_create_tables(create_table)
    if len(shapes) != 1:
        raise ValueError(f"expected one CREATE TABLE statement, found {len(shapes)}")
    return shapes[0]


def _shape(statement: exp.Expr) -> TableShape:
    schema = statement.this if isinstance(statement, exp.Create) else None
    if not isinstance(schema, exp.Schema) or statement.args.get("kind") != "TABLE":
        raise ValueError(f"not a CREATE TABLE statement: {_first_line(statement.sql())}")
    columns: list[Column] = []
    primary: tuple[str, ...] = ()
    indexes: set[Index] = set()
    constraints: set[str] = set()
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            column, is_primary = _column(item)
            columns.append(column)
            primary = (column.name,) if is_primary else primary
        elif isinstance(item, exp.PrimaryKey):
            primary = _names(item.expressions)
        elif isinstance(item, exp.UniqueColumnConstraint | exp.IndexColumnConstraint):
            indexes.add(_index(item))
        else:
            constraints.add(_canonical_sql(item))
    columns = [_not_null_if_primary(column, primary) for column in columns]
    return TableShape(
        _name(schema.this), tuple(columns), primary, frozenset(indexes), frozenset(constraints)
    )


def _column(item: exp.ColumnDef) -> tuple[Column, bool]:
    kinds: list[exp.Expr] = [c.kind for c in item.constraints if not isinstance(c.kind, _COSMETIC)]
    json_check = next((k for k in kinds if _is_json_check(k, item.name)), None)
    nullable, default, primary, extra = True, None, False, []
    for kind in kinds:
        if kind is json_check:
            continue
        if isinstance(kind, exp.NotNullColumnConstraint):
            nullable = bool(kind.args.get("allow_null"))
        elif isinstance(kind, exp.DefaultColumnConstraint):
            default = _default(kind.this)
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            primary = True
        else:
            extra.append(_canonical_sql(kind))
    column_type = "json" if json_check is not None else _type(item.args.get("kind"))
    name = item.name.lower()
    return Column(name, column_type, nullable, default, tuple(sorted(extra))), primary


def _type(kind: object) -> str:
    if not isinstance(kind, exp.DataType):
        return "unknown"
    dtype = _ALIASES.get(kind.this, kind.this)
    base = dtype.value.lower()
    if kind.this in _INTEGERS:  # display widths are not part of the type
        return base
    params = [_canonical_sql(param) for param in kind.expressions]
    return f"{base}({','.join(params)})" if params else base


def _is_json_check(kind: exp.Expr, column: str) -> bool:
    """MariaDB stores ``json`` as ``longtext … CHECK (json_valid(`column`))``."""
    if not isinstance(kind, exp.CheckColumnConstraint):
        return False
    check = kind.this
    return (
        isinstance(check, exp.Anonymous)
        and str(check.this).lower() == "json_valid"
        and [_name(arg) for arg in check.expressions] == [column.lower()]
    )


def _default(value: exp.Expr | None) -> str | None:
    if value is None or isinstance(value, exp.Null):
        return None  # DEFAULT NULL is what a nullable column has anyway
    if isinstance(value, exp.Literal):
        return str(value.this)  # '0' and 0 are the same default
    if isinstance(value, exp.Boolean):
        return "1" if value.this else "0"
    if isinstance(value, exp.CurrentTimestamp):
        precision = value.this
        return "current_timestamp" + (f"({precision.sql()})" if precision else "")
    return _canonical_sql(value)


def _index(item: exp.UniqueColumnConstraint | exp.IndexColumnConstraint) -> Index:
    if isinstance(item, exp.UniqueColumnConstraint):
        target = item.this
        name_node = target.this if isinstance(target, exp.Schema) else None
        columns = _names(target.expressions) if isinstance(target, exp.Schema) else ()
        kind = "unique"
    else:
        name_node = item.this
        columns = _names(item.expressions)
        kind = str(item.args.get("kind") or "index").lower()
    # An unnamed index is named after its first column, as MySQL names it.
    name = _name(name_node) if name_node is not None else (columns[0] if columns else "")
    return Index(kind, name, columns)


def _not_null_if_primary(column: Column, primary: tuple[str, ...]) -> Column:
    if column.name in primary and column.nullable:
        return Column(column.name, column.type, False, column.default, column.extra)
    return column


def _names(items: list[exp.Expr]) -> tuple[str, ...]:
    return tuple(_canonical_sql(item) for item in items)


def _name(node: exp.Expr | None) -> str:
    if node is None:
        return ""
    if isinstance(node, exp.Table | exp.Column | exp.Identifier):
        return str(node.name).lower()
    return _canonical_sql(node)


def _canonical_sql(node: exp.Expr) -> str:
    """Unquoted, lower-cased SQL of a node: spelling differences disappear."""
    unquoted = node.copy().transform(_unquote)
    return unquoted.sql(dialect=DIALECT, identify=False, normalize=True).lower()


def _unquote(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Identifier) and node.quoted:
        return exp.Identifier(this=node.this, quoted=False)
    return node


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""
