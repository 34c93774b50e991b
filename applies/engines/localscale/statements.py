"""The emulator's statement bookkeeping: DDL compared with whitespace collapsed."""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")


def normalize_statement(statement: str) -> str:
    """The form two DDL statements are compared in: whitespace collapsed, no trailing ';'."""
    return _WHITESPACE.sub(" ", statement).strip().rstrip(";").strip()


def missing_statements(desired: tuple[str, ...] | list[str], present: list[str]) -> list[str]:
    """The desired statements that ``present`` lacks, in desired order, each once."""
    have = {normalize_statement(statement) for statement in present}
    missing: list[str] = []
    for statement in desired:
        key = normalize_statement(statement)
        if key and key not in have:
            have.add(key)
            missing.append(statement)
    return missing
