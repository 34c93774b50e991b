"""The schema-only model: a keyspace's tables are ``SchemaTable`` rows (no MySQL server).

Used where no server is configured (the demo on the embedded SQLite database). DDL reaches it
through the emulator's MySQL endpoint and is applied with ``localscale.ddl``; accounts are the
``Password`` rows themselves, which that endpoint authenticates against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from localscale import ddl
from localscale.models import Keyspace, Password, SchemaTable
from localscale.store import StoreError, TableChange


class ModelStore:
    def create_keyspace(self, keyspace: Keyspace, tables: Mapping[str, str]) -> None:
        SchemaTable.objects.bulk_create(
            SchemaTable(keyspace=keyspace, name=name, ddl=text) for name, text in tables.items()
        )

    def drop_keyspace(self, keyspace: Keyspace) -> None:
        SchemaTable.objects.filter(keyspace=keyspace).delete()

    def tables(self, keyspace: Keyspace) -> dict[str, str]:
        rows = SchemaTable.objects.filter(keyspace=keyspace).order_by("name")
        return {row.name: row.ddl for row in rows}

    def run(self, keyspace: Keyspace, statements: Sequence[str]) -> None:
        before = self.tables(keyspace)
        after = before
        try:
            for statement in statements:
                after = ddl.apply(after, statement)
        except ddl.DDLError as exc:
            raise StoreError(exc.code, exc.message) from None
        self.replace(keyspace, before, after)

    def replace(
        self, keyspace: Keyspace, before: Mapping[str, str], after: Mapping[str, str]
    ) -> None:
        """Write the difference between two versions of the keyspace's tables."""
        SchemaTable.objects.filter(keyspace=keyspace, name__in=set(before) - set(after)).delete()
        for name, text in after.items():
            if before.get(name) != text:
                SchemaTable.objects.update_or_create(
                    keyspace=keyspace, name=name, defaults={"ddl": text}
                )

    def deploy(
        self, keyspace: Keyspace, changes: Sequence[TableChange], number: int
    ) -> list[dict[str, Any]]:
        before = self.tables(keyspace)
        after = dict(before)
        for change in changes:
            if change.new is None:
                after.pop(change.table, None)
            else:
                after[change.table] = change.new
        self.replace(keyspace, before, after)
        return [{"table": change.table, "previous": before.get(change.table)} for change in changes]

    def revert(self, keyspace: Keyspace, undo: Sequence[Mapping[str, Any]]) -> None:
        before = self.tables(keyspace)
        after = dict(before)
        for step in undo:
            if step["previous"] is None:
                after.pop(step["table"], None)
            else:
                after[step["table"]] = step["previous"]
        self.replace(keyspace, before, after)

    def finish(self, keyspace: Keyspace, undo: Sequence[Mapping[str, Any]]) -> None:
        return  # nothing is kept outside the undo record itself

    def create_account(
        self, password: Password, secret: str, keyspaces: Sequence[Keyspace]
    ) -> None:
        return  # the Password row is the account

    def drop_account(self, username: str) -> None:
        return

    def reset(self) -> dict[str, int]:
        deleted, _ = SchemaTable.objects.all().delete()
        return {"tables": deleted}
