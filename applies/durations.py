"""How long something took or is, in words people read at a glance: ``4m12s``, ``2d3h``."""

from __future__ import annotations

_UNITS = ((86_400, "d"), (3600, "h"), (60, "m"), (1, "s"))


def duration(seconds: int | None) -> str:
    """The two largest units, ``4m12s``-style, for sentences; ``unknown`` for no value."""
    if seconds is None:
        return "unknown"
    rest = max(0, int(seconds))
    shown = []
    for size, unit in _UNITS:
        value, rest = divmod(rest, size)
        if value:
            shown.append(f"{value}{unit}")
    return "".join(shown[:2]) or "0s"
