"""Branch passwords: accounts that reach exactly one branch's keyspaces, until their ttl ends.

A password's secret is derived (HMAC of the emulator's secret key and the password's id), so it
is stored nowhere: the API shows it once, the MySQL endpoint re-derives it to check a login, and
with a MySQL server configured the account is real (``store.mariadb``). Expiry runs on real
time, not the emulator's clock: it is about access, not a simulated duration. Expired accounts
are dropped on every API call and by the server's reaper, and refused at login in between.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from localscale import naming, store
from localscale.errors import ApiError
from localscale.models import Branch, Password

logger = logging.getLogger(__name__)

ROLES = ("admin", "readwriter", "writer", "reader")
DEFAULT_ROLE = "reader"  # least privilege when a client names no role
MAX_TTL_SECONDS = 30 * 24 * 3600
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def secret_for(password: Password) -> str:
    key = settings.SECRET_KEY.encode()
    digest = hmac.new(key, f"localscale-password:{password.public_id}".encode(), hashlib.sha256)
    return "pscale_pw_" + base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")[:32]


def native_auth_string(secret: str) -> str:
    """What MySQL stores for mysql_native_password: SHA1(SHA1(secret)), in hex."""
    return hashlib.sha1(hashlib.sha1(secret.encode()).digest()).hexdigest()


def create(branch: Branch, payload: dict[str, Any], apply_identifier: str) -> tuple[Password, str]:
    role = payload.get("role", DEFAULT_ROLE)
    if role not in ROLES:
        raise ApiError(422, "unprocessable", f"role must be one of {', '.join(ROLES)}.")
    ttl = payload.get("ttl", 0)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS:
        raise ApiError(422, "unprocessable", f"ttl must be seconds, 0 to {MAX_TTL_SECONDS}.")
    name = payload.get("name") or f"{branch.name}-{secrets.token_hex(3)}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ApiError(422, "unprocessable", "name may hold letters, digits, '.', '_' and '-'.")
    now = timezone.now()
    password = Password.objects.create(
        public_id=secrets.token_hex(6),
        branch=branch,
        name=name,
        role=role,
        username=naming.new_username(),
        ttl_seconds=ttl,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
        apply_identifier=apply_identifier,
    )
    secret = secret_for(password)
    try:
        store.current().create_account(password, secret, list(branch.keyspaces.all()))
    except store.StoreError as exc:
        raise ApiError(503, "unavailable", f"cannot create the account: {exc.message}") from None
    return password, secret


def live(branch: Branch | None = None) -> QuerySet[Password]:
    """Passwords not deleted and not past their expiry (by real time)."""
    found = Password.objects.filter(deleted_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    return found if branch is None else found.filter(branch=branch)


def get(branch: Branch, public_id: str) -> Password:
    password = live(branch).filter(public_id=public_id).first()
    if password is None:
        raise ApiError(404, "not_found", f"Password {public_id} was not found.")
    return password


def delete(branch: Branch, public_id: str) -> None:
    retire(get(branch, public_id))


def retire(password: Password) -> None:
    """Drop the account and mark the password deleted (idempotent)."""
    store.current().drop_account(password.username)
    Password.objects.filter(pk=password.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )


def expire_due() -> int:
    """Drop every account past its ttl; how many. Safe to run from several processes."""
    due = Password.objects.filter(deleted_at__isnull=True, expires_at__lte=timezone.now())
    count = 0
    for password in due:
        try:
            retire(password)
            count += 1
        except store.StoreError as exc:
            logger.warning(
                "LocalScale could not drop expired account %s: %s", password.username, exc
            )
    return count


def authenticate(username: str) -> tuple[Password, str] | None:
    """The live password of ``username`` and its secret, for the MySQL endpoint's login."""
    password = live().select_related("branch").filter(username=username).first()
    if password is None:
        return None
    return password, secret_for(password)


def live_counts() -> dict[str, dict[str, int]]:
    """Live (unexpired, undeleted) accounts per apply identifier and per database."""
    rows = live().values("apply_identifier", "branch__organization", "branch__database_name")
    per_apply: dict[str, int] = {}
    per_database: dict[str, int] = {}
    for row in rows.annotate(n=Count("id")):
        per_apply[row["apply_identifier"]] = per_apply.get(row["apply_identifier"], 0) + row["n"]
        database = f"{row['branch__organization']}/{row['branch__database_name']}"
        per_database[database] = per_database.get(database, 0) + row["n"]
    return {"per_apply": per_apply, "per_database": per_database}
