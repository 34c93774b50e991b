"""Helpers for tests that run ternadmin as a separate process or against a scratch database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import MySQLdb
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ(**overrides: str) -> dict[str, str]:
    """The current environment without any ternadmin/SchemaBot settings, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TERNADMIN_", "SCHEMABOT_", "DJANGO_SETTINGS"))
    }
    env.update(overrides)
    return env


def run_python(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter in the repository root with exactly ``env``."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_manage(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_python("manage.py", *args, env=env, timeout=timeout)


def mariadb_server() -> dict[str, Any]:
    """Connection arguments of the MariaDB server the Django databases live on."""
    db = settings.DATABASES[settings.SCHEMABOT_DATABASE]
    args: dict[str, Any] = {"host": db["HOST"] or "127.0.0.1", "user": db["USER"] or "root"}
    if db.get("PORT"):
        args["port"] = int(db["PORT"])
    if db.get("PASSWORD"):
        args["password"] = db["PASSWORD"]
    return args


def mysql_url(database: str) -> str:
    server = mariadb_server()
    password = f":{server['password']}" if server.get("password") else ""
    port = server.get("port", 3306)
    return f"mysql://{server['user']}{password}@{server['host']}:{port}/{database}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[MySQLdb.Connection]:
    """A fresh, empty MariaDB database, dropped afterwards; yields a connection to it."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = MySQLdb.connect(**mariadb_server(), autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    connection = MySQLdb.connect(**mariadb_server(), database=name, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def database_name(connection: MySQLdb.Connection) -> str:
    cursor = connection.cursor()
    cursor.execute("SELECT DATABASE()")
    return str(cursor.fetchone()[0])


def load_ddl(connection: MySQLdb.Connection, statements: Mapping[str, str]) -> None:
    cursor = connection.cursor()
    for ddl in statements.values():
        cursor.execute(ddl)


_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


def schema_snapshot(connection: MySQLdb.Connection) -> dict[str, str]:
    """Every table's CREATE statement (without the moving AUTO_INCREMENT counter)."""
    cursor = connection.cursor()
    cursor.execute("SHOW FULL TABLES")
    tables = sorted(row[0] for row in cursor.fetchall())
    snapshot = {}
    for table in tables:
        cursor.execute(f"SHOW CREATE TABLE `{table}`")
        snapshot[table] = _AUTO_INCREMENT.sub("", cursor.fetchone()[1])
    return snapshot
