"""Bearer tokens of the JSON API: made once, stored only as a SHA-256 hash.

A token is ``tern_`` plus 32 random bytes (URL-safe base64). Its hash is a lookup key, so a
stolen database yields no usable token; ``last_used_at`` is written at most once a minute.
A revoked token, or one past its optional expiry, authenticates no one (the API says 401).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from applies.models import ApiToken

PREFIX = "tern_"
TOUCH_EVERY = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(user: User, name: str = "", *, expires_in: timedelta | None = None) -> str:
    """A new token for ``user``; the only time the token itself exists outside its owner."""
    raw = PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + expires_in if expires_in is not None else None
    ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw), expires_at=expires_at)
    return raw


def usable(now: datetime) -> Q:
    """Tokens neither revoked nor expired at ``now``."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def user_for(raw: str) -> User | None:
    """The active user whose usable token ``raw`` is, or ``None`` (revoked, expired, unknown)."""
    if not raw.startswith(PREFIX):
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(usable(now), key_hash=hash_token(raw))
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke(tokens: QuerySet[ApiToken], *, by: str) -> int:
    """Revoke the tokens not yet revoked; how many were. The rows stay, for the record."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)
