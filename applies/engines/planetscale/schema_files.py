"""The desired schema of a plan: ``plans.schema_files`` read the way SchemaBot writes it.

Upstream stores ``schema.SchemaFiles`` as JSON (pkg/storage/mysqlstore/plans.go): one entry per
namespace (a Vitess keyspace), each ``{"Files": {filename: content}}`` where every ``*.sql`` file
holds CREATE TABLE statements and ``vschema.json`` the keyspace's VSchema (pkg/schema/schema.go,
pkg/schema/namespace.go).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from applies.engines.planetscale.normalize import TableShape, parse_create_tables

VSCHEMA_FILE = "vschema.json"


class SchemaFilesError(ValueError):
    """``plans.schema_files`` cannot be read as SchemaBot's schema files."""


@dataclass(frozen=True)
class DesiredKeyspace:
    name: str
    tables: Mapping[str, TableShape]  # by lower-cased table name
    vschema: str | None = None  # the raw vschema.json, when the plan has one


@dataclass(frozen=True)
class DesiredSchema:
    keyspaces: Mapping[str, DesiredKeyspace] = field(default_factory=dict)


def desired_schema(schema_files: object) -> DesiredSchema:
    """Parse ``plans.schema_files`` (a JSON text or the decoded object)."""
    data = _decoded(schema_files)
    keyspaces = {}
    for name, namespace in sorted(data.items()):
        files = namespace.get("Files") if isinstance(namespace, dict) else None
        if not isinstance(files, dict):
            raise SchemaFilesError(f"schema files of namespace {name!r} have no Files object")
        keyspaces[name] = _keyspace(name, files)
    return DesiredSchema(keyspaces)


def _decoded(value: object) -> dict[str, object]:
    if isinstance(value, bytes | str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SchemaFilesError("schema files are not valid JSON") from None
    if not isinstance(value, dict):
        raise SchemaFilesError("schema files are not a JSON object of namespaces")
    return value


def _keyspace(name: str, files: Mapping[str, object]) -> DesiredKeyspace:
    tables: dict[str, TableShape] = {}
    for filename, content in sorted(files.items()):
        if not isinstance(content, str):
            raise SchemaFilesError(f"schema file {name}/{filename} is not text")
        if not filename.endswith(".sql"):
            continue
        try:
            shapes = parse_create_tables(content)
        except ValueError as exc:
            raise SchemaFilesError(f"schema file {name}/{filename}: {exc}") from None
        for shape in shapes:
            tables[shape.name] = shape
    vschema = files.get(VSCHEMA_FILE)
    return DesiredKeyspace(name, tables, vschema if isinstance(vschema, str) else None)
