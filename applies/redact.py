"""Keeping credentials off the console: lease tokens shortened, secrets masked in free text.

SchemaBot's error messages and log lines are free text written by drivers; a connection error
can quote a DSN with its password, a failed HTTP call its ``Authorization`` header, a config
dump a ``DB_PASSWORD=…`` line. The console, the API and the admin pass every such string
through ``redact`` and every JSON blob through ``redact_json`` before showing it: in the admin
that includes a log row's name (``ApplyLog.__str__``, which Django prints in page titles and
inline rows), the audit history and the reasons in Django's history of a fix. Log messages
pass through ``redact`` too (``ternadmin.logfilters``), and the access log's request lines
(``ternadmin.gunicorn_conf``).

Masking errs on the side of hiding: a word after ``token:`` in a sentence is masked too.
"""

from __future__ import annotations

import re
from typing import Any

SHORT_TOKEN = 8
MASK = "•••"

# Words that make a key secret-looking: DB_PASSWORD, PLANETSCALE_SERVICE_TOKEN, api-key,
# aws_secret_access_key, x-auth-token, private_key, client_secret, passphrase…
_SECRET_WORD = (
    r"pass(?:word|wd|phrase)|pwd|secret|token|credentials?|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|signature"
)
_SECRET_KEYS = re.compile(_SECRET_WORD + r"|authorization", re.I)

# scheme://user:password@host: the password may hold '@' (the last '@' before the host
# separates it), so the greedy match backs off to that last '@'.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/]+(?=@)", re.I)

# Go's MySQL DSN, as SchemaBot writes it: user:password@tcp(host:3306)/db, user:pw@unix(…)/db,
# user:pw@/db. The password may hold '@' and ':'; the last '@' before the address ends it.
_GO_DSN = re.compile(r"(?P<head>(?<![\w.:/-])[\w.-]+:)\S+(?=@(?:(?:tcp[46]?|udp|unix)\(|/))", re.I)

# Authorization: Bearer <t> / Basic <t> / token <t> / <id>:<token>; the scheme word stays.
_AUTHORIZATION = re.compile(
    r"(?P<head>\bauthorization[\"']?\s*[=:]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?)"
    r"(?P<value>[^\s\"',;]+)",
    re.I,
)
# A bearer credential quoted without its header ("sent Bearer eyJhbGciOi…").
_BEARER = re.compile(r"(?P<head>\bbearer\s+)(?P<value>[\w.~+/=-]{8,})", re.I)

# KEY=value, key: value, "key": "value", ?key=value&… for secret-looking keys (Authorization
# has its own rule above). The key may be
# quoted (JSON inside text, escaped or not); the value is quoted (kept quoted) or bare.
_KEYED = re.compile(
    r"(?P<key>(?<![\w.-])(?:\\?[\"'])?[\w.-]*(?:" + _SECRET_WORD + r")[\w.-]*(?:\\?[\"'])?"
    r"\s*[=:]\s*)(?!" + MASK + r")"  # a value another rule masked stays as it is
    r"(?P<value>\\?\"(?:[^\"\\]|\\[^\"])*\\?\"|'[^']*'|[^\s,;&}\]\"']+)",
    re.I,
)

# ternadmin's own API tokens (applies.api_tokens), under whatever name they travel.
_API_TOKEN = re.compile(r"\btern_[\w-]{16,}")

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
)


def short_token(token: str | None) -> str:
    """The part of a lease token people see and send back (never the whole token)."""
    return (token or "")[:SHORT_TOKEN]


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    for quote in ('\\"', '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return match.group("key") + quote + MASK + quote
    return match.group("key") + MASK


def redact(text: str | None) -> str:
    """``text`` with every credential form above masked."""
    if not text:
        return ""
    text = _PRIVATE_KEY_BLOCK.sub(MASK, text)
    text = _API_TOKEN.sub(MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _GO_DSN.sub(lambda m: m.group("head") + MASK, text)
    text = _AUTHORIZATION.sub(lambda m: m.group("head") + MASK, text)
    text = _BEARER.sub(lambda m: m.group("head") + MASK, text)
    return _KEYED.sub(_mask_value, text)


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
