"""What a branch still lacks of the desired schema: the resume decision.

Upstream diffs the branch's live schema against the plan's schema files when it resumes on a
branch that already exists (pkg/engine/planetscale/apply.go, ``diffBranchForResume``) and runs
only what is missing. Here the comparison is per table, by shape and by what the desired
table states beyond it (``normalize.matches``): a table already at its desired shape is never
touched; the VSchema is rewritten only when it differs.
A drive compares only the tables its plan changes: production may have moved on elsewhere
(another apply on the same database), and undoing that is no plan's business.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from applies.engines.planetscale.normalize import TableShape, matches, table_shape
from applies.engines.planetscale.schema_files import DesiredKeyspace, DesiredSchema
from applies.engines.planetscale.types import SchemaTable


@dataclass(frozen=True)
class KeyspaceDiff:
    keyspace: str
    tables: tuple[str, ...]  # lower-cased names of tables not at their desired shape
    vschema: str | None  # the desired VSchema when the branch's differs, else None

    @property
    def empty(self) -> bool:
        return not self.tables and self.vschema is None


@dataclass(frozen=True)
class SchemaDiff:
    keyspaces: tuple[KeyspaceDiff, ...]

    @property
    def empty(self) -> bool:
        return all(keyspace.empty for keyspace in self.keyspaces)

    def tables(self) -> set[tuple[str, str]]:
        return {(k.keyspace, table) for k in self.keyspaces for table in k.tables}

    def summary(self) -> str:
        parts = [
            f"{k.keyspace}: {', '.join(k.tables) or 'no tables'}"
            + (" and its VSchema" if k.vschema is not None else "")
            for k in self.keyspaces
            if not k.empty
        ]
        return "; ".join(parts) or "nothing"


def diff_keyspace(
    desired: DesiredKeyspace,
    present: Iterable[SchemaTable],
    vschema: str | None,
    only: Collection[str] | None = None,
) -> KeyspaceDiff:
    """``present``: the branch's tables in the keyspace; ``vschema``: its VSchema (None when
    the plan has none to compare, so it was not asked for); ``only``: the tables to compare
    (lower-cased; None for all)."""
    present = [t for t in present if only is None or t.name.lower() in only]
    current = {table.name.lower(): _shape(table) for table in present}
    wanted = {n: s for n, s in desired.tables.items() if only is None or n in only}
    names = sorted(set(wanted) | set(current))
    off = tuple(name for name in names if not _at_desired(wanted.get(name), current.get(name)))
    changed = desired.vschema is not None and not same_vschema(desired.vschema, vschema or "")
    return KeyspaceDiff(desired.name, off, desired.vschema if changed else None)


def same_vschema(left: str, right: str) -> bool:
    """Equal as JSON values (key order and whitespace aside); an empty text is ``{}``."""
    return _json(left) == _json(right)


def diff_schema(desired: DesiredSchema, keyspaces: Iterable[KeyspaceDiff]) -> SchemaDiff:
    by_name = {diff.keyspace: diff for diff in keyspaces}
    return SchemaDiff(tuple(by_name[name] for name in desired.keyspaces))


def _at_desired(wanted: TableShape | None, present: TableShape | None) -> bool:
    if wanted is None or present is None:
        return wanted is present  # both absent; otherwise one is to create or to drop
    return matches(wanted, present)


def _shape(table: SchemaTable) -> TableShape:
    try:
        return table_shape(table.raw)
    except ValueError as exc:
        raise ValueError(f"branch table {table.name}: {exc}") from None


def _json(text: str) -> object:
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()  # not JSON: compared as text
