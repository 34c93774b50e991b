"""The emulator's MySQL endpoint: where a branch password's ``access_host_url`` points.

PlanetScale's access host is an edge that authenticates the password and routes a keyspace name
(``USE commerce``) to the branch's database. This endpoint (mysql-mimic) does the same:
mysql_native_password logins are checked against the live branch passwords, and statements run
in the branch's keyspaces. With a MySQL server configured they are forwarded to the keyspace's
real database *as the password's own account* (so its grants and its expiry are the server's);
without one (the demo) CREATE / ALTER / DROP TABLE, SHOW TABLES and SHOW CREATE TABLE work on
the schema-only model. Production (``main``) refuses DDL: it changes through deploy requests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import connections, transaction
from mysql_mimic import MysqlServer, Session
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.session import Query
from sqlglot import exp

from localscale import ddl, naming, passwords, store
from localscale.branches import MAIN_BRANCH
from localscale.models import Keyspace

logger = logging.getLogger(__name__)
T = TypeVar("T")
AllowedResult = Any

_started: dict[str, int] = {}  # {"port": N} once this process serves the endpoint


def advertised_address(http_host: str) -> str:
    """``host:port`` of the endpoint, as reached by whoever reached the API at ``http_host``."""
    if http_host.startswith("["):  # an IPv6 literal, [::1]:8766
        host = http_host[: http_host.find("]") + 1]
    else:
        host = http_host.split(":", 1)[0]
    port = _started.get("port", settings.LOCALSCALE_MYSQL_PORT)
    return f"{host or '127.0.0.1'}:{port}"


def _orm(function: Callable[[], T]) -> T:
    """Run ORM work in this (worker) thread and give its connection back afterwards."""
    try:
        return function()
    finally:
        connections.close_all()


async def _in_thread(function: Callable[[], T]) -> T:
    return await asyncio.to_thread(_orm, function)


def _error(message: str, code: int) -> MysqlError:
    return MysqlError(message, code=cast(ErrorCode, code))


@dataclass(frozen=True)
class Login:
    """What a session knows about its password: its branch's keyspaces and databases."""

    username: str
    secret: str
    branch: str
    keyspaces: dict[str, int]  # name → Keyspace id
    databases: dict[str, str]  # name → real database name


def _login(username: str) -> Login | None:
    found = passwords.authenticate(username)
    if found is None:
        return None
    password, secret = found
    branch = password.branch
    keyspaces = {keyspace.name: keyspace.pk for keyspace in branch.keyspaces.all()}
    databases = {
        name: naming.database_name(branch.organization, branch.database_name, branch.name, name)
        for name in keyspaces
    }
    return Login(username, secret, branch.name, keyspaces, databases)


class BranchIdentity(IdentityProvider):
    def get_plugins(self) -> list[NativePasswordAuthPlugin]:
        return [NativePasswordAuthPlugin()]

    async def get_user(self, username: str) -> User | None:
        login = await _in_thread(lambda: _login(username))
        if login is None:
            return None
        return User(
            name=username,
            auth_string=passwords.native_auth_string(login.secret),
            auth_plugin=NativePasswordAuthPlugin.name,
        )


class BranchSession(Session):
    """One client connection, logged in with a branch password."""

    def __init__(self) -> None:
        super().__init__()
        position = self.middlewares.index(self._show_middleware)
        self.middlewares.insert(position, self._branch_middleware)
        self.login: Login | None = None
        self.upstream: Any = None  # a connection as the password's account (server mode)

    async def init(self, connection: Any) -> None:
        await super().init(connection)
        self.login = await self._live_login()
        if settings.LOCALSCALE_MYSQL_URL is not None:
            await self._connect_upstream()
        if self.database:
            await self.use(self.database)

    async def close(self) -> None:
        if self.upstream is not None:
            upstream, self.upstream = self.upstream, None
            await asyncio.to_thread(upstream.close)
        await super().close()

    async def _live_login(self) -> Login:
        username = self.username or ""
        login = await _in_thread(lambda: _login(username))
        if login is None:
            raise _error(f"Access denied for user '{username}' (password expired or deleted)", 1045)
        return login

    async def _connect_upstream(self) -> None:
        from localscale.store.mariadb import connect_as

        assert self.login is not None and settings.LOCALSCALE_MYSQL_URL is not None
        login, server = self.login, settings.LOCALSCALE_MYSQL_URL
        try:
            self.upstream = await asyncio.to_thread(
                connect_as, server, login.username, login.secret
            )
        except Exception as exc:  # MySQLdb.Error; its module is optional in the demo
            raise _error(f"the branch server refused the login: {exc}", 1045) from None

    async def use(self, database: str) -> None:
        login = self._current()
        if database not in login.keyspaces:
            raise _error(f"Unknown database '{database}'", 1049)
        if self.upstream is not None:
            await self._forward(f"USE `{login.databases[database]}`")
        self.database = database

    def _current(self) -> Login:
        if self.login is None:
            raise _error("not logged in", 1045)
        return self.login

    async def _branch_middleware(self, q: Query) -> AllowedResult:
        self.login = await self._live_login()  # an expired password stops working at once
        expression = q.expression
        if isinstance(expression, exp.Show):
            return await self._show_branch(expression)
        if _is_ddl(expression):
            return await self._ddl(expression, q.sql)
        return await q.next()

    async def query(self, expression: exp.Expression, sql: str, attrs: dict[str, str]) -> Any:
        if self.upstream is None:
            raise _error(
                "LocalScale's schema model answers DDL, SHOW TABLES and SHOW CREATE TABLE only",
                ddl.ER_NOT_SUPPORTED_YET,
            )
        return await self._forward(self._rewritten(expression, sql))

    async def schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """The branch's keyspaces for INFORMATION_SCHEMA queries: {keyspace: {table: {column:
        type}}} (mysql-mimic answers those queries from it, in both modes)."""
        found: dict[str, dict[str, dict[str, str]]] = {}
        for keyspace in sorted(self._current().keyspaces):
            tables = await self._tables(keyspace)
            found[keyspace] = {name: ddl.column_types(text) for name, text in tables.items()}
        return found

    # --- SHOW and DDL -------------------------------------------------------------------------

    async def _show_branch(self, show: exp.Show) -> AllowedResult:
        kind = show.name.upper()
        login = self._current()
        if kind == "DATABASES":
            return [(name,) for name in sorted(login.keyspaces)], ["Database"]
        if kind not in {"TABLES", "CREATE TABLE"}:
            return await self._show(show)
        keyspace = str(show.args.get("db") or "") or self.database
        target = show.args.get("target")
        if isinstance(target, exp.Table) and target.db:
            keyspace = target.db
        if not keyspace or keyspace not in login.keyspaces:
            raise _error("No database selected", 1046)
        tables = await self._tables(keyspace)
        if kind == "TABLES":
            return [(name,) for name in tables], [f"Tables_in_{keyspace}"]
        name = str(target.name) if isinstance(target, exp.Expression) else ""
        if name not in tables:
            raise _error(f"Table '{keyspace}.{name}' doesn't exist", ddl.ER_NO_SUCH_TABLE)
        return [(name, tables[name])], ["Table", "Create Table"]

    async def _tables(self, keyspace: str) -> dict[str, str]:
        keyspace_id = self._current().keyspaces[keyspace]

        def read() -> dict[str, str]:
            return store.current().tables(
                Keyspace.objects.select_related("branch").get(pk=keyspace_id)
            )

        try:
            return await _in_thread(read)
        except store.StoreError as exc:
            raise _error(exc.message, exc.code) from None

    async def _ddl(self, expression: exp.Expression, sql: str) -> AllowedResult:
        login = self._current()
        if login.branch == MAIN_BRANCH:
            raise _error(
                "direct DDL is disabled on the production branch: use a deploy request",
                ddl.ER_NOT_SUPPORTED_YET,
            )
        if self.upstream is not None:
            return await self._forward(self._rewritten(expression, sql))
        keyspace = _qualifier(expression) or self.database
        if not keyspace or keyspace not in login.keyspaces:
            raise _error("No database selected", 1046)
        keyspace_id = login.keyspaces[keyspace]
        statement = _unqualified(expression).sql(dialect=ddl.DIALECT)

        def run() -> None:
            with transaction.atomic():
                locked = Keyspace.objects.select_for_update().get(pk=keyspace_id)
                store.current().run(locked, [statement])

        try:
            await _in_thread(run)
        except store.StoreError as exc:
            raise _error(exc.message, exc.code) from None
        return [], []

    # --- Forwarding to the branch server ------------------------------------------------------

    def _rewritten(self, expression: exp.Expression, sql: str) -> str:
        """The statement with keyspace names turned into the branch's database names."""
        databases = self._current().databases
        changed = False
        for table in expression.find_all(exp.Table):
            if table.db in databases:
                table.set("db", exp.to_identifier(databases[table.db], quoted=True))
                changed = True
        if not changed and not isinstance(expression, exp.Command):
            return sql if _single(sql) else expression.sql(dialect=ddl.DIALECT)
        return expression.sql(dialect=ddl.DIALECT)

    async def _forward(self, statement: str) -> AllowedResult:
        upstream = self.upstream

        def run() -> tuple[list[Any], list[str]]:
            cursor = upstream.cursor()
            try:
                cursor.execute(statement)
                if cursor.description is None:
                    return [], []
                return list(cursor.fetchall()), [column[0] for column in cursor.description]
            finally:
                cursor.close()

        try:
            return await asyncio.to_thread(run)
        except Exception as exc:  # MySQLdb.Error: pass the server's own code and message on
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 1105
            message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
            raise _error(message, code) from None


def _is_ddl(expression: exp.Expression) -> bool:
    if isinstance(expression, exp.Create | exp.Alter):
        return True
    if isinstance(expression, exp.Drop):
        return (expression.args.get("kind") or "").upper() == "TABLE"
    return isinstance(expression, exp.Command) and str(expression.this).upper() == "RENAME"


def _qualifier(expression: exp.Expression) -> str:
    tables = list(expression.find_all(exp.Table))
    return str(tables[0].db) if tables and tables[0].db else ""


def _unqualified(expression: exp.Expression) -> exp.Expression:
    clean = expression.copy()
    for table in clean.find_all(exp.Table):
        table.set("db", None)
    return clean


def _single(sql: str) -> bool:
    return ";" not in sql.strip().rstrip(";")


# --- Serving ----------------------------------------------------------------------------------


class FrontServer:
    """The endpoint on an asyncio loop in a daemon thread of this process."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._server = MysqlServer(
            session_factory=BranchSession, identity_provider=BranchIdentity()
        )
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> int:
        """Listen (port 0: any free port) and serve; the port it listens on."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self._server.start_server(host=self.host, port=self.port), self._loop
        )
        future.result(timeout=10)
        self.port = int(self._server.sockets()[0].getsockname()[1])
        _started["port"] = self.port
        return self.port

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            _started.pop("port", None)
