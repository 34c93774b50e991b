"""Which engines ternadmin drives: the decision itself, from settings alone.

Kept apart from the drivers (``applies.engines``) and free of any other import, so that what
sits below the engines (classification, claims) can ask it too: every "does ternadmin drive
this apply's engine?" in the project is answered here.
"""

from __future__ import annotations

from collections.abc import Mapping

# Each engine with a driver, and the class that makes its drivers (``DriverFactory``), named as
# a string and loaded only when a drive asks. Spirit reattaches through its own checkpoint
# tables (upstream pkg/tern/local_control_resume.go), so ternadmin has nothing to drive for it:
# SchemaBot's own operator claims its applies.
DRIVER_FACTORIES: Mapping[str, str] = {
    "planetscale": "applies.recovery.planetscale.PlanetScaleDrivers",
}
ENGINES_WITH_DRIVER: tuple[str, ...] = tuple(DRIVER_FACTORIES)


def driven_engines() -> tuple[str, ...]:
    """The engines ternadmin drives (``TERNADMIN_ENGINES``; each has a driver)."""
    from django.conf import settings

    return tuple(settings.TERNADMIN_ENGINES)


def drives_engine(engine: str | None) -> bool:
    return engine_name(engine) in driven_engines()


def not_driven_reason(engine: str | None) -> str:
    """Why ternadmin does not drive applies of ``engine`` ("" when it does)."""
    name = engine_name(engine)
    if name in driven_engines():
        return ""
    if name in ENGINES_WITH_DRIVER:
        return f"ternadmin does not drive {name} (not in TERNADMIN_ENGINES)"
    return f"ternadmin does not drive {name or 'an unnamed engine'}"


def engine_name(engine: str | None) -> str:
    return (engine or "").strip().lower()
