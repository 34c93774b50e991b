"""What people may send: ids, page numbers and free text, checked before any query or write.

One home for the bounds every entry point shares (console forms and filters, the API's
schemas, the admin, URL converters), so odd input is a clear 4xx rather than an overflow in
SQLite, a "data too long" from MariaDB's strict mode or a ``UnicodeEncodeError`` in a driver.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

# SchemaBot's ids are BIGINT UNSIGNED; SQLite's integers and Django's BigAutoField stop at
# 2**63 - 1, and no SchemaBot will ever get that far.
MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")

# The reason an operator gives goes into apply_logs.message (TEXT) and the timeline; the
# console's form allows this much of details, the API the same.
MAX_REASON = 500
# A state name or a shortened lease token sent back as "what I saw".
MAX_SEEN = 100

# Applies one bulk reclaim takes (the console's and the API's): each is a claim and a drive.
MAX_BULK_ITEMS = 200

# Admin list pages are offset pages: a page this deep costs reading 5 million rows already.
MAX_PAGE = 100_000


def parse_id(raw: object) -> int | None:
    """An id as people type it: ASCII digits for 1..MAX_ID; anything else is ``None``.

    ``str.isdigit`` is no guard: it accepts ``²``, which ``int()`` refuses.
    """
    if isinstance(raw, bool):
        return None
    text = str(raw).strip() if isinstance(raw, str | int) else ""
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as UTF-8 text and shown, or ``None`` when it can.

    Lone surrogates (from JSON ``\\ud800`` escapes) cannot be encoded; NUL and other control
    characters (tab and newline aside) have no business in a reason or a state name.
    """
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            return "contains an unpaired surrogate (not valid Unicode text)"
        if category == "Cc" and char not in "\t\n\r":
            return f"contains the control character U+{ord(char):04X}"
    return None


def validate_text(value: str) -> None:
    """Django validator form of ``text_problem``."""
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"The text {problem}.")
