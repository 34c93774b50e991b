"""Bearer tokens of the JSON API: made once, stored only as a SHA-256 hash.

A token is ``tern_`` plus 32 random bytes (URL-safe base64). Its hash is a lookup key, so a
stolen database yields no usable token; ``last_used_at`` is written at most once a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from applies.models import ApiToken

PREFIX = "tern_"
TOUCH_EVERY = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(user: User, name: str = "") -> str:
    """A new token for ``user``; the only time the token itself exists outside its owner."""
    raw = PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw))
    return raw


def user_for(raw: str) -> User | None:
    """The active user whose token ``raw`` is, or ``None``."""
    if not raw.startswith(PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
