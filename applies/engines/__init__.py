"""Engines ternadmin drives itself: the driver protocol (``base``) and PlanetScale.

``driver_for(apply)`` is the one place that decides whether ternadmin can drive an apply's
engine, and with which driver. Imports are deferred so that settings can import
``applies.engines.config`` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from applies.engines.base import Driver
    from applies.models import Apply

# Engines with a driver. Spirit reattaches through its own checkpoint tables (upstream
# pkg/tern/local_control_resume.go), so ternadmin has nothing to drive for it.
ENGINES_WITH_DRIVER: tuple[str, ...] = ("planetscale",)


def driven_engines() -> tuple[str, ...]:
    """The engines listed in ``TERNADMIN_ENGINES`` that have a driver here."""
    from django.conf import settings

    return tuple(name for name in settings.TERNADMIN_ENGINES if name in ENGINES_WITH_DRIVER)


def driver_for(apply: Apply) -> Driver | None:
    """The step driver for the apply, or None when ternadmin does not drive its engine.

    Raises ``ImproperlyConfigured`` when the engine is driven but its settings are incomplete
    (for PlanetScale outside demo mode: API URL, organization and service token).
    """
    if (apply.engine or "").strip().lower() not in driven_engines():
        return None
    from applies.recovery.planetscale import PlanetScaleDriver

    return PlanetScaleDriver.from_settings(apply.pk)
