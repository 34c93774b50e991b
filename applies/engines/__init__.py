"""Engines ternadmin drives itself: the protocol, the PlanetScale client and its emulator.

``engine_for(apply)`` is the one place that decides whether ternadmin can drive an apply's
engine. Imports are deferred so that settings can import ``applies.engines.config`` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from applies.engines.base import Engine
    from applies.models import Apply

# Engines with a driver in this package. Spirit reattaches through its own checkpoint tables
# (domain.md §4.3), so ternadmin has nothing to drive for it.
ENGINES_WITH_DRIVER: tuple[str, ...] = ("planetscale",)


def driven_engines() -> tuple[str, ...]:
    """The engines listed in ``TERNADMIN_ENGINES`` that have a driver here."""
    from django.conf import settings

    return tuple(name for name in settings.TERNADMIN_ENGINES if name in ENGINES_WITH_DRIVER)


def engine_for(apply: Apply) -> Engine | None:
    """A client for the apply's engine, or None when ternadmin does not drive that engine.

    Raises ``ImproperlyConfigured`` when the engine is driven but its settings are incomplete
    (for PlanetScale outside demo mode: API URL, organization and service token).
    """
    if (apply.engine or "").strip().lower() not in driven_engines():
        return None
    from applies.engines.planetscale import PlanetScaleEngine

    return PlanetScaleEngine.from_settings()
