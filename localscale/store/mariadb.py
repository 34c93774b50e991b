"""Branch keyspaces as real databases on a MySQL/MariaDB server, passwords as real accounts.

The emulator administers the server with the account in ``LOCALSCALE_MYSQL_URL``. Every
keyspace of every branch is its own database (``naming.database_name``); a branch password is
an account granted exactly its branch's databases. A deploy changes the main branch's tables
the way an online schema change does: the new shape is built in a shadow table, the rows are
copied, and the two are swapped by one ``RENAME TABLE``; the old table is kept, renamed, for
the revert window (a revert swaps it back; closing the window drops it). Rows written during
the window are not carried back by a revert, unlike PlanetScale's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import MySQLdb

from localscale import ddl, naming
from localscale.config import MySQLServer
from localscale.models import Keyspace, Password
from localscale.store import StoreError, TableChange, is_kept_table, kept_table

# What each documented password role may do in its branch's databases.
ROLE_PRIVILEGES: Mapping[str, str] = {
    "admin": "ALL PRIVILEGES",
    "readwriter": "SELECT, INSERT, UPDATE, DELETE",
    "writer": "INSERT, UPDATE, DELETE",
    "reader": "SELECT",
}


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def database_of(keyspace: Keyspace) -> str:
    branch = keyspace.branch
    return naming.database_name(
        branch.organization, branch.database_name, branch.name, keyspace.name
    )


class MariaDBStore:
    def __init__(self, server: MySQLServer) -> None:
        self.server = server

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        try:
            connection = MySQLdb.connect(
                **self.server.connect_args(), autocommit=True, charset="utf8mb4"
            )
        except MySQLdb.Error as exc:
            raise StoreError(
                _code(exc), f"cannot reach the branch server: {_message(exc)}"
            ) from None
        try:
            yield connection.cursor()
        except MySQLdb.Error as exc:
            raise StoreError(_code(exc), _message(exc)) from None
        finally:
            connection.close()

    def create_keyspace(self, keyspace: Keyspace, tables: Mapping[str, str]) -> None:
        database = quote(database_of(keyspace))
        with self._cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET utf8mb4")
            cursor.execute(f"USE {database}")
            for text in tables.values():
                cursor.execute(text)

    def drop_keyspace(self, keyspace: Keyspace) -> None:
        with self._cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(database_of(keyspace))}")

    def tables(self, keyspace: Keyspace) -> dict[str, str]:
        database = quote(database_of(keyspace))
        with self._cursor() as cursor:
            cursor.execute(f"SHOW FULL TABLES FROM {database} WHERE Table_type = 'BASE TABLE'")
            names = sorted(str(row[0]) for row in cursor.fetchall())
            found = {}
            for name in names:
                if is_kept_table(name):
                    continue
                cursor.execute(f"SHOW CREATE TABLE {database}.{quote(name)}")
                found[name] = ddl.without_counter(str(cursor.fetchone()[1]))
            return found

    def run(self, keyspace: Keyspace, statements: Sequence[str]) -> None:
        with self._cursor() as cursor:
            cursor.execute(f"USE {quote(database_of(keyspace))}")
            for statement in statements:
                cursor.execute(statement)

    def deploy(
        self, keyspace: Keyspace, changes: Sequence[TableChange], number: int
    ) -> list[dict[str, Any]]:
        undo: list[dict[str, Any]] = []
        with self._cursor() as cursor:
            cursor.execute(f"USE {quote(database_of(keyspace))}")
            try:
                for change in changes:
                    undo.append(_deploy_one(cursor, change, number))
            except MySQLdb.Error as exc:
                # Leave main as it was: undo what this deploy already did, then report.
                _revert_all(cursor, undo)
                raise StoreError(_code(exc), f"{change.table}: {_message(exc)}") from None
        return undo

    def revert(self, keyspace: Keyspace, undo: Sequence[Mapping[str, Any]]) -> None:
        with self._cursor() as cursor:
            cursor.execute(f"USE {quote(database_of(keyspace))}")
            _revert_all(cursor, undo)

    def finish(self, keyspace: Keyspace, undo: Sequence[Mapping[str, Any]]) -> None:
        with self._cursor() as cursor:
            cursor.execute(f"USE {quote(database_of(keyspace))}")
            for step in undo:
                if step.get("kept"):
                    cursor.execute(f"DROP TABLE IF EXISTS {quote(step['kept'])}")

    def create_account(
        self, password: Password, secret: str, keyspaces: Sequence[Keyspace]
    ) -> None:
        privileges = ROLE_PRIVILEGES[password.role]
        with self._cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (password.username, secret))
            for keyspace in keyspaces:
                cursor.execute(
                    f"GRANT {privileges} ON {quote(database_of(keyspace))}.* TO %s@'%%'",
                    (password.username,),
                )

    def drop_account(self, username: str) -> None:
        """Drop the account and end its open sessions (a dropped user's sessions live on)."""
        with self._cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (username,))
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (username,)
            )
            for (session,) in cursor.fetchall():
                with suppress(MySQLdb.Error):  # it ended meanwhile
                    cursor.execute(f"KILL {int(session)}")

    def reset(self) -> dict[str, int]:
        with self._cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE %s", (naming.database_pattern(),))
            databases = [str(row[0]) for row in cursor.fetchall()]
            for database in databases:
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(database)}")
            cursor.execute(
                "SELECT User, Host FROM mysql.user WHERE User LIKE %s", (naming.account_pattern(),)
            )
            accounts = list(cursor.fetchall())
            for user, host in accounts:
                cursor.execute("DROP USER IF EXISTS %s@%s", (user, host))
        return {"databases": len(databases), "accounts": len(accounts)}


def _deploy_one(cursor: Any, change: TableChange, number: int) -> dict[str, Any]:
    table = quote(change.table)
    if change.operation == "create":
        assert change.new is not None
        cursor.execute(change.new)
        return {"table": change.table, "operation": "create"}
    kept = kept_table(number, change.table)
    if change.operation == "drop":
        cursor.execute(f"RENAME TABLE {table} TO {quote(kept)}")
        return {"table": change.table, "operation": "drop", "kept": kept}
    assert change.new is not None
    shadow = kept_table(number, change.table, "_new")
    cursor.execute(f"DROP TABLE IF EXISTS {quote(shadow)}")
    cursor.execute(ddl.renamed(change.new, shadow))
    cursor.execute(f"SHOW CREATE TABLE {table}")
    current = str(cursor.fetchone()[1])
    shared = [name for name in ddl.columns(change.new) if name in set(ddl.columns(current))]
    if shared:
        names = ", ".join(quote(name) for name in shared)
        cursor.execute(f"INSERT INTO {quote(shadow)} ({names}) SELECT {names} FROM {table}")
    cursor.execute(f"RENAME TABLE {table} TO {quote(kept)}, {quote(shadow)} TO {table}")
    return {"table": change.table, "operation": "alter", "kept": kept}


def _revert_all(cursor: Any, undo: Sequence[Mapping[str, Any]]) -> None:
    for step in reversed(undo):
        table = quote(step["table"])
        if step["operation"] == "create":
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        elif step["operation"] == "drop":
            cursor.execute(f"RENAME TABLE {quote(step['kept'])} TO {table}")
        else:
            aside = quote(step["kept"] + "_r")
            cursor.execute(f"RENAME TABLE {table} TO {aside}, {quote(step['kept'])} TO {table}")
            cursor.execute(f"DROP TABLE {aside}")


def connect_as(server: MySQLServer, username: str, secret: str) -> Any:
    """A connection to the branch server as a branch password's own account."""
    return MySQLdb.connect(
        host=server.host,
        port=server.port,
        user=username,
        password=secret,
        autocommit=True,
        charset="utf8mb4",
    )


def _code(exc: MySQLdb.Error) -> int:
    return int(exc.args[0]) if exc.args and isinstance(exc.args[0], int) else 2013


def _message(exc: MySQLdb.Error) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)
