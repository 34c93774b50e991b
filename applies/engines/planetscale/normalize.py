"""A table's shape from its CREATE TABLE statement, so two statements can be compared (sqlglot).

The same table reads very differently depending on who wrote it: a hand-written schema file,
MariaDB's ``SHOW CREATE TABLE`` or MySQL 8's. The shape keeps what the table *is* and drops how
it was spelled: quoting and the case of keywords, types and identifiers; integer display widths
(``bigint(20)`` is ``bigint``) and ``bool`` (``tinyint``); MariaDB's ``longtext … CHECK
(json_valid(…))`` for ``json``; quoted versus bare default literals (``'0'`` is ``0``); an
implicit ``DEFAULT NULL``; ``current_timestamp()`` versus ``CURRENT_TIMESTAMP``; the order of
indexes. Column order is kept: it is part of the table.

Character sets, collations, comments and table options (ENGINE, CHARSET, COLLATE, ROW_FORMAT,
COMMENT …) are not part of the shape, because a server prints defaults it was never told and
leaves out what equals the table's default; they are kept beside it, and ``matches`` holds a
table to those its *desired* statement states (a plan that only changes a collation is not
done until the collation is). What cannot be told from the text (a default collation the server
did not print) is not counted as a difference. AUTO_INCREMENT is never compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
# Column attributes kept beside the shape: compared only where the desired table states them.
_STATED = (
    exp.CharacterSetColumnConstraint,
    exp.CollateColumnConstraint,
    exp.CommentColumnConstraint,
)
# Table options by their sqlglot node; any other ``Property`` goes by its own name, and
# AUTO_INCREMENT (a counter, not a definition) and options not listed here are left out.
_OPTIONS: dict[type[exp.Expr], str] = {
    exp.EngineProperty: "engine",
    exp.CharacterSetProperty: "charset",
    exp.CollateProperty: "collate",
    exp.RowFormatProperty: "row_format",
    exp.SchemaCommentProperty: "comment",
}
# Options a server prints for every table, whether it was told them or not: one missing from a
# statement says nothing. Any other option is printed only when set, so missing means unset.
_ALWAYS_PRINTED = frozenset({"engine", "charset", "collate"})
_UNSET = frozenset({"", "default"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    extra: tuple[str, ...]  # auto_increment, on update …, other constraints, sorted
    # As stated in the statement (None when it says nothing); compared only by ``matches``.
    charset: str | None = field(default=None, compare=False)
    collation: str | None = field(default=None, compare=False)
    comment: str | None = field(default=None, compare=False)


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
    # Table options as stated (name, value), lower-cased but the comment; compared by ``matches``.
    options: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def option(self, name: str) -> str | None:
        return dict(self.options).get(name)


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
        _name(schema.this),
        tuple(columns),
        primary,
        frozenset(indexes),
        frozenset(constraints),
        _options(statement.args.get("properties")),
    )


def _column(item: exp.ColumnDef) -> tuple[Column, bool]:
    stated = {type(c.kind): c.kind for c in item.constraints if isinstance(c.kind, _STATED)}
    kinds: list[exp.Expr] = [c.kind for c in item.constraints if not isinstance(c.kind, _STATED)]
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
    charset = stated.get(exp.CharacterSetColumnConstraint)
    collation = stated.get(exp.CollateColumnConstraint)
    comment = stated.get(exp.CommentColumnConstraint)
    column = Column(
        name,
        column_type,
        nullable,
        default,
        tuple(sorted(extra)),
        charset=_charset(_word(charset.this)) if charset is not None else None,
        collation=_collation(_word(collation.this)) if collation is not None else None,
        comment=_text(comment.this) if comment is not None else None,
    )
    return column, primary


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
        return replace(column, nullable=False)
    return column


def _options(properties: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(properties, exp.Properties):
        return ()
    options: dict[str, str] = {}
    for prop in properties.expressions:
        if type(prop) is exp.Property:
            options[_word(prop.this)] = _word(prop.args.get("value"))
        elif (name := _OPTIONS.get(type(prop))) is not None:
            options[name] = _text(prop.this) if name == "comment" else _word(prop.this)
    if "charset" in options:
        options["charset"] = _charset(options["charset"])
    if "collate" in options:
        options["collate"] = _collation(options["collate"])
    return tuple(sorted(options.items()))


def matches(desired: TableShape, present: TableShape) -> bool:
    """Whether ``present`` is at ``desired``: the same shape, and every character set,
    collation, comment and table option ``desired`` states (see the module docstring)."""
    if desired != present:
        return False
    for name, wanted in desired.options:
        if not _option_holds(name, wanted, present):
            return False
    return all(
        _column_holds(want, have, present)
        for want, have in zip(desired.columns, present.columns, strict=True)
    )


def _option_holds(name: str, wanted: str, present: TableShape) -> bool:
    have = present.option(name)
    if name == "charset":
        have = have or _charset_of(present.option("collate"))
    elif name == "collate" and have is None:
        # A default collation the server did not print: its character set must still agree.
        return _agrees(_charset_of(wanted), _table_charset(present))
    if have is None:
        return name in _ALWAYS_PRINTED or wanted in _UNSET
    return have == wanted


def _column_holds(want: Column, have: Column, table: TableShape) -> bool:
    if want.comment is not None and want.comment != (have.comment or ""):
        return False
    if want.type == "json":  # no character set of its own (MariaDB's longtext says utf8mb4_bin)
        return True
    charset = have.charset or _charset_of(have.collation) or _table_charset(table)
    if want.charset is not None and not _agrees(want.charset, charset):
        return False
    if want.collation is None:
        return True
    collation = have.collation
    if collation is None and have.charset is None:
        collation = table.option("collate")  # a column at the table's default is printed bare
    if collation is None:
        return _agrees(_charset_of(want.collation), charset)
    return want.collation == collation


def _table_charset(table: TableShape) -> str | None:
    return table.option("charset") or _charset_of(table.option("collate"))


def _agrees(wanted: str | None, have: str | None) -> bool:
    """Unknown on either side is no difference: only what both texts say is compared."""
    return wanted is None or have is None or wanted == have


def _charset(name: str) -> str:
    return "utf8mb3" if name == "utf8" else name  # utf8 is utf8mb3's old name


def _collation(name: str) -> str:
    return "utf8mb3_" + name[len("utf8_") :] if name.startswith("utf8_") else name


def _charset_of(collation: str | None) -> str | None:
    """A collation's character set: its name up to the first '_' (``binary`` is its own)."""
    return collation.split("_", 1)[0] if collation else None


def _word(node: object) -> str:
    """An option's or attribute's value, unquoted and lower-cased."""
    if isinstance(node, exp.Literal):
        return str(node.this).lower()
    if isinstance(node, exp.Expr):
        return str(node.name or node.sql(dialect=DIALECT)).lower()
    return ""


def _text(node: object) -> str:
    """A comment: its text as it is, quotes aside."""
    return str(node.this) if isinstance(node, exp.Literal) else _word(node)


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
