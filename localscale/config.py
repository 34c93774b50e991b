"""Environment parsing for LocalScale's settings (kept free of models so settings can import it).

Every bad value stops the process at start with one line naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from ternadmin import config

_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class MySQLServer:
    """Where LocalScale keeps branch databases and accounts: a server it administers."""

    host: str
    port: int
    user: str
    password: str = ""

    def connect_args(self) -> dict[str, object]:
        args: dict[str, object] = {"host": self.host, "port": self.port, "user": self.user}
        if self.password:
            args["password"] = self.password
        return args


def env_mysql_server(environ: Mapping[str, str], name: str) -> MySQLServer | None:
    """``mysql://user[:password]@host[:port]`` (no database part), or None when unset."""
    url = config.env_str(environ, name)
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or 3306
    except ValueError:  # a port out of range or not a number, or a malformed IPv6 host
        raise ImproperlyConfigured(f"{name} has a host or port that cannot be read.") from None
    if parts.scheme != "mysql" or not parts.hostname or not parts.username:
        raise ImproperlyConfigured(f"{name} must look like mysql://user[:password]@host[:port].")
    if parts.path.strip("/"):
        raise ImproperlyConfigured(f"{name} names a database; LocalScale makes its own.")
    return MySQLServer(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
    )


def env_prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    """A database-name prefix: lower-case letters, digits and '_', at most 40 characters."""
    value = config.env_str(environ, name) or default
    if not _PREFIX.match(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} must start with a letter and hold at most 40 of a-z, 0-9 and _."
        )
    return value
