"""Names LocalScale gives things on a shared MySQL server: databases and accounts.

A keyspace of a branch is the database ``<prefix>_<hash of org/db/branch/keyspace>`` (always
within MySQL's 64 characters, whatever the names); accounts are ``<tag>_<random>``, where the
tag is a hash of the prefix, so that one emulator's cleanup never touches another's.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings

HASH_LENGTH = 16  # hex digits: 64 bits, so names collide only by astronomical bad luck


def database_name(organization: str, database: str, branch: str, keyspace: str) -> str:
    key = "\x1f".join((organization, database, branch, keyspace)).encode()
    digest = hashlib.sha256(key).hexdigest()[:HASH_LENGTH]
    return f"{settings.LOCALSCALE_DATABASE_PREFIX}_{digest}"


def database_pattern() -> str:
    """A ``LIKE`` pattern matching every database this emulator's prefix names."""
    return settings.LOCALSCALE_DATABASE_PREFIX.replace("_", "\\_") + "\\_%"


def account_tag() -> str:
    digest = hashlib.sha256(settings.LOCALSCALE_DATABASE_PREFIX.encode()).hexdigest()[:8]
    return f"ls{digest}"


def new_username() -> str:
    """At most 32 characters (MySQL 8's limit): ``ls`` + 8 + ``_`` + 16."""
    return f"{account_tag()}_{secrets.token_hex(8)}"


def account_pattern() -> str:
    return account_tag() + "\\_%"
