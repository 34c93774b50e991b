"""A MySQL connection to one keyspace of a PlanetScale branch, made with a branch password.

SchemaBot runs a branch's DDL over the MySQL protocol with an admin branch password (upstream
pkg/engine/planetscale/apply.go, ``applyKeyspaceChangesOnce``); so does ternadmin. TLS is
required and the server's certificate verified against the system's CA roots, as PlanetScale
asks; only a loopback host (an emulator on this machine) may go without.

This module owns the choice of MySQL driver: mysqlclient (``MySQLdb``, the ``mysql`` extra)
when it is installed, else PyMySQL. ternadmin's base install needs no compiler (the demo runs
on embedded SQLite), so it cannot rely on mysqlclient; PyMySQL is pure Python and speaks the
same protocol, which is all a handful of DDL statements needs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from applies.engines.base import EngineRejected, EngineUnavailable
from applies.engines.planetscale.types import BranchPassword

DEFAULT_PORT = 3306
# Client-side errors (2xxx: cannot connect, server gone, lost connection) and server states
# that pass (too many connections, lock wait timeout, deadlock): try again later.
_TRANSIENT_SERVER_ERRORS = frozenset({1040, 1205, 1213})


def mysql_driver() -> ModuleType:
    try:
        import MySQLdb

        return MySQLdb
    except ImportError:
        import pymysql

        return pymysql


def host_and_port(access_host_url: str) -> tuple[str, int]:
    """``access_host_url`` is a host name, ``host:port`` or a URL; PlanetScale's port is 3306."""
    parts = urlsplit(access_host_url if "//" in access_host_url else f"//{access_host_url}")
    if not parts.hostname:
        raise EngineRejected(f"branch password has no usable host: {access_host_url!r}")
    return parts.hostname, parts.port or DEFAULT_PORT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BranchConnection:
    """Statements run one at a time, autocommit (DDL commits anyway). Close when done."""

    def __init__(
        self, password: BranchPassword, keyspace: str, *, timeout: float, driver: ModuleType
    ) -> None:
        self.keyspace = keyspace
        self._driver = driver
        host, port = host_and_port(password.access_host_url)
        args: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": password.username,
            "password": password.plain_text,
            "database": keyspace,
            "connect_timeout": max(1, int(timeout)),
            "autocommit": True,
        }
        if not is_loopback(host):
            args.update(_tls_arguments(driver))
        try:
            self._connection = driver.connect(**args)
        except driver.Error as exc:
            raise _engine_error(exc, f"connect to keyspace {keyspace}") from None

    def execute(self, statement: str) -> None:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(statement)
        except self._driver.Error as exc:
            raise _engine_error(exc, f"in keyspace {self.keyspace}: {statement[:300]}") from None

    def close(self) -> None:
        # A connection that is already gone is closed enough.
        with contextlib.suppress(self._driver.Error):
            self._connection.close()

    def __enter__(self) -> BranchConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _tls_arguments(driver: ModuleType) -> dict[str, Any]:
    if driver.__name__ == "MySQLdb":
        paths = ssl.get_default_verify_paths()
        ca = {"ca": paths.cafile} if paths.cafile else {"capath": paths.capath}
        return {"ssl_mode": "VERIFY_IDENTITY", "ssl": ca}
    return {"ssl": ssl.create_default_context()}  # verifies the certificate and host name


def _engine_error(exc: Exception, what: str) -> Exception:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    text = f"branch MySQL error {code} {what}: {message}"
    if 2000 <= code < 3000 or code in _TRANSIENT_SERVER_ERRORS:
        return EngineUnavailable(text)
    return EngineRejected(text)
