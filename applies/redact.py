"""Keeping credentials off the console: lease tokens shortened, secrets masked in free text.

SchemaBot's error messages and log lines are free text written by drivers; a connection error
can quote a DSN with its password. The console and the API pass every such string through
``redact`` and every JSON blob through ``redact_json`` before showing it.
"""

from __future__ import annotations

import re
from typing import Any

SHORT_TOKEN = 8
MASK = "•••"

# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.I)
# password=…, token: …, secret=…, authorization: …  (quoted or bare values)
_KEYED = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api[_-]?key|authorization)\b\s*[=:]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&]+)",
    re.I,
)
_SECRET_KEYS = re.compile(
    r"password|passwd|secret|token|credential|api[_-]?key|authorization", re.I
)


def short_token(token: str | None) -> str:
    """The part of a lease token people see and send back (never the whole token)."""
    return (token or "")[:SHORT_TOKEN]


def redact(text: str | None) -> str:
    if not text:
        return ""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return _KEYED.sub(lambda m: m.group("key") + MASK, text)


def redact_json(value: Any) -> Any:
    """``value`` with secret-looking keys masked and strings redacted, recursively."""
    if isinstance(value, dict):
        return {
            key: MASK if _SECRET_KEYS.search(str(key)) else redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value
