"""Engines ternadmin drives itself: the one seam that decides which, and with which driver.

Every place that asks "does ternadmin drive this apply's engine?" (claims, the sweep, the brake,
classification, the console's actions, ``manage.py recover``) asks ``applies.engines.driven``
(re-exported here; classification, below the engines, imports it from there), and a drive gets
its driver here. ``TERNADMIN_ENGINES`` lists the engines to drive and is refused at start when it
names one without a driver (``applies.engines.config.env_engines``), so "listed" and "has a
driver" never disagree at run time.

Imports of drivers are deferred so that settings can import ``applies.engines.config`` cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from django.utils.module_loading import import_string

from applies.engines.driven import (
    DRIVER_FACTORIES,
    ENGINES_WITH_DRIVER,
    driven_engines,
    drives_engine,
    engine_name,
    not_driven_reason,
)

if TYPE_CHECKING:
    from applies.engines.base import Driver

__all__ = [
    "ENGINES_WITH_DRIVER",
    "DriverFactory",
    "Drivers",
    "driven_engines",
    "driver_factory",
    "drives_engine",
    "not_driven_reason",
]


class DriverFactory(Protocol):
    """Makes one engine's drivers; what they share (an HTTP connection pool) lives here."""

    def driver(self, apply_id: int) -> Driver: ...

    def close(self) -> None: ...


def driver_factory(engine: str | None) -> DriverFactory | None:
    """A factory of drivers for ``engine``, or None when ternadmin does not drive it.

    Raises ``ImproperlyConfigured`` when the engine is driven but its settings are incomplete
    (for PlanetScale outside demo mode: API URL, organization and service token).
    """
    name = engine_name(engine)
    if name not in driven_engines():
        return None
    factory: DriverFactory = import_string(DRIVER_FACTORIES[name]).from_settings()
    return factory


class Drivers:
    """Which driver runs an apply, for one runner (a drive loop, a foreground drive): each
    engine's factory is made once and reused for every apply the runner steps, so connections
    are not rebuilt per step. ``driver_for`` answers None for an engine ternadmin does not
    drive."""

    def __init__(self, factories: Mapping[str, DriverFactory] | None = None) -> None:
        self._factories: dict[str, DriverFactory | None] = dict(factories or {})

    def driver_for(self, engine: str | None, apply_id: int) -> Driver | None:
        name = engine_name(engine)
        if name not in self._factories:
            self._factories[name] = driver_factory(name)
        factory = self._factories[name]
        return None if factory is None else factory.driver(apply_id)

    def close(self) -> None:
        for factory in self._factories.values():
            if factory is not None:
                factory.close()
        self._factories.clear()

    def __enter__(self) -> Drivers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
