"""django-q2 entry points: thin adapters, and the one place that builds the sweep's owner id."""

from __future__ import annotations

from typing import Any

from applies.owners import owner_id


def sweep(**options: Any) -> dict[str, Any]:
    """The scheduled reclaim sweep (one bounded pass)."""
    from applies.sweep import run_sweep

    return run_sweep(owner=owner_id("sweep"), **options).summary()


def drive_loop(slot: int, generation: int) -> dict[str, Any]:
    """One generation of a drive loop (``applies.drives.loops``)."""
    from applies.drives.loops import drive_loop as run_loop

    return run_loop(slot, generation)
