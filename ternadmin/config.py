"""Environment parsing for settings: every bad value fails at start with a message naming it.

Kept apart from ``settings.py`` so the rules (which database goes where, which SchemaBot mode is
in force) can be tested without reloading Django's settings.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

STANDALONE = "standalone"
ATTACH = "attach"
SCHEMABOT_MODES = (STANDALONE, ATTACH)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Strict mode so a bad write is an error, not a silently truncated value; the rest mirrors
# MySQL 8's defaults. Sessions run in UTC because Django reads naive DATETIMEs as UTC.
MYSQL_SQL_MODE = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


def env_str(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name, default).strip()


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no).")


def env_int(
    environ: Mapping[str, str],
    name: str,
    default: int,
    *,
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} must be at most {maximum}.")
    return value


def env_float(
    environ: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
) -> float:
    """A finite number greater than ``minimum`` and at most ``maximum``."""
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name}={raw!r} must be a finite number.")
    if not value > minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be greater than {minimum:g}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at most {maximum:g}.")
    return value


def env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    return env_int(environ, name, default, minimum=1, maximum=65_535)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_log_level(environ: Mapping[str, str], name: str, default: str) -> str:
    level = env_str(environ, name, default).upper() or default
    if level not in LOG_LEVELS:
        raise ImproperlyConfigured(f"{name}={level!r} must be one of: {', '.join(LOG_LEVELS)}.")
    return level


def env_redis_url(environ: Mapping[str, str], name: str) -> str:
    """A Redis URL (``redis://``, ``rediss://`` or ``unix://``), or '' when unset."""
    url = env_str(environ, name)
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port, parts = -1, urlsplit("")
    network = parts.scheme in {"redis", "rediss"} and bool(parts.hostname)
    socket = parts.scheme == "unix" and bool(parts.path)
    if port == -1 or not (network or socket):
        raise ImproperlyConfigured(
            f"{name} is not a Redis URL (redis://host:6379/0, rediss://… or unix:///path)."
        )
    return url


def env_drive_loops(environ: Mapping[str, str], name: str, *, workers: int, needed: bool) -> int:
    """How many drive loops run: by default every worker but one, which stays free for the sweep
    (and for a loop's successor); more than that is refused."""
    most = workers - 1
    if needed and most < 1:
        raise ImproperlyConfigured(
            f"TERNADMIN_Q_WORKERS={workers} leaves no worker for the drive loops (one stays free "
            "for the sweep): set it to 2 or more."
        )
    value = env_int(environ, name, default=max(most, 1), minimum=1, maximum=63)
    if needed and value > most:
        raise ImproperlyConfigured(
            f"{name}={value} must be at most {most}: TERNADMIN_Q_WORKERS={workers} less one "
            "worker kept free for the sweep."
        )
    return value


def usable_directory(path: Path, name: str) -> Path:
    """``path``, created if missing; refused unless ternadmin can write files there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{name}={str(path)!r} cannot be created: {exc.strerror}."
        ) from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(
            f"{name}={str(path)!r} is not a directory ternadmin can write to."
        )
    return path


def env_choice(
    environ: Mapping[str, str], name: str, choices: tuple[str, ...], *, default: str
) -> str:
    value = env_str(environ, name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


# SchemaBot's drivers heartbeat every 10 s (pkg/tern/local_client.go ``heartbeatInterval``) and
# call a lease stale after one minute (``storage.ApplyLeaseStaleAfter``, #753).
SCHEMABOT_HEARTBEAT_SECONDS = 10
SCHEMABOT_STALE_AFTER_SECONDS = 60
SCHEMABOT_RETRY_BUDGET = 10  # maxRecoveryAttempts
SCHEMABOT_RETRY_FRESHNESS_SECONDS = 86_400  # retryableRecoveryFreshnessDays = 1
SCHEMABOT_LINES = ("b2349ea", "current")


def refuse_short_staleness(stale_after: int, *, demo: bool) -> None:
    """A window under two SchemaBot heartbeats would call live drivers dead and take their
    applies; only the demo and the tests (demo mode) may shorten it that far."""
    floor = 2 * SCHEMABOT_HEARTBEAT_SECONDS
    if not demo and stale_after < floor:
        raise ImproperlyConfigured(
            f"TERNADMIN_STALE_AFTER_SECONDS={stale_after} is below {floor} s (twice SchemaBot's "
            f"{SCHEMABOT_HEARTBEAT_SECONDS} s heartbeat): live SchemaBot drivers would look dead."
        )


def refuse_slow_heartbeat(heartbeat: int, stale_after: int) -> None:
    """ternadmin's own drives must beat at least twice per staleness window, or every apply they
    hold would look dead and be claimed away from them (by SchemaBot or by ternadmin's sweep)."""
    if 2 * heartbeat > stale_after:
        raise ImproperlyConfigured(
            f"TERNADMIN_HEARTBEAT_SECONDS={heartbeat} leaves fewer than two heartbeats in "
            f"TERNADMIN_STALE_AFTER_SECONDS={stale_after}: the applies ternadmin drives would "
            "look dead."
        )


def env_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class DatabaseLayout:
    """Where the two databases live and whether ternadmin may create SchemaBot's tables."""

    default: dict[str, Any]
    schemabot: dict[str, Any]
    schemabot_mode: str
    embedded: bool


def database_layout(environ: Mapping[str, str], data_dir: Path) -> DatabaseLayout:
    """Build both DATABASES entries from the environment.

    Nothing set: one embedded SQLite file holds both (the zero-set-up demo). A SchemaBot URL on
    its own keeps ternadmin's tables in the embedded file. A ternadmin URL without a SchemaBot URL
    is refused: sharing one server-side schema would make test databases collide.
    """
    default_url = env_str(environ, "TERNADMIN_DATABASE_URL")
    schemabot_url = env_str(environ, "SCHEMABOT_DATABASE_URL")
    if default_url and not schemabot_url:
        raise ImproperlyConfigured(
            "TERNADMIN_DATABASE_URL is set but SCHEMABOT_DATABASE_URL is not; set both "
            "(SchemaBot's storage database is a database of its own)."
        )
    if not (default_url and schemabot_url):  # the embedded file is in use
        usable_directory(data_dir, "TERNADMIN_DATA_DIR")
    embedded_url = f"sqlite:///{data_dir / 'ternadmin.sqlite3'}"
    default = _database(default_url or embedded_url, "TERNADMIN_DATABASE_URL")
    schemabot = _database(schemabot_url or embedded_url, "SCHEMABOT_DATABASE_URL")
    mode = _schemabot_mode(environ, schemabot_url_set=bool(schemabot_url))
    if mode == ATTACH and schemabot["ENGINE"] != "django.db.backends.mysql":
        raise ImproperlyConfigured(
            "SCHEMABOT_MODE=attach needs SCHEMABOT_DATABASE_URL to name a MySQL/MariaDB "
            "database created by SchemaBot."
        )
    if mode == ATTACH and same_database(default, schemabot):
        raise ImproperlyConfigured(
            "In attach mode TERNADMIN_DATABASE_URL must name a database other than SchemaBot's: "
            "ternadmin never creates its own tables there."
        )
    # Embedded means no database URL at all: one set against a real SchemaBot (even with
    # ternadmin's own tables left on the embedded file) is production, never the demo.
    return DatabaseLayout(default, schemabot, mode, embedded=not (default_url or schemabot_url))


def _schemabot_mode(environ: Mapping[str, str], *, schemabot_url_set: bool) -> str:
    # A production URL defaults to attach, so a real SchemaBot database is never altered by
    # accident; standalone against a URL must be asked for by name.
    default = ATTACH if schemabot_url_set else STANDALONE
    mode = env_str(environ, "SCHEMABOT_MODE", default).lower() or default
    if mode not in SCHEMABOT_MODES:
        raise ImproperlyConfigured(
            f"SCHEMABOT_MODE={mode!r} is not one of: {', '.join(SCHEMABOT_MODES)}."
        )
    return mode


def _database(url: str, name: str) -> dict[str, Any]:
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_health_checks=True))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.mysql":
        _require_mysql_driver(name)
        config["OPTIONS"] = {
            "charset": "utf8mb4",
            "init_command": f"SET time_zone = '+00:00', sql_mode = '{MYSQL_SQL_MODE}'",
            # SchemaBot claims at READ COMMITTED so SKIP LOCKED scans take no gap locks.
            "isolation_level": "read committed",
            **config.get("OPTIONS", {}),
        }
        config["CONN_MAX_AGE"] = 60
    elif engine == "django.db.backends.sqlite3":
        usable_directory(Path(config["NAME"]).parent, name)
        config["OPTIONS"] = {
            # WAL lets the web server, the scheduler and the demo seeder share the file;
            # IMMEDIATE takes the write lock up front instead of failing on lock upgrade.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        raise ImproperlyConfigured(f"{name}: only mysql:// and sqlite:// URLs are supported.")
    return config


def _require_mysql_driver(name: str) -> None:
    # Checked here, at start, rather than at the first query: the driver is an install extra
    # (the demo runs without it), and a missing one should say what to install, not trace back.
    if importlib.util.find_spec("MySQLdb") is None:
        raise ImproperlyConfigured(
            f"{name} is a mysql:// URL but the MySQL driver is not installed: "
            "pip install 'ternadmin[mysql]' (mysqlclient; it builds against the MySQL client "
            "headers, on Debian: apt-get install libmariadb-dev pkg-config gcc)."
        )


def same_database(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    keys = ("ENGINE", "NAME", "HOST", "PORT")
    return all(str(first.get(key) or "") == str(second.get(key) or "") for key in keys)
