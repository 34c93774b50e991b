"""Start-up checks of the sweep's settings and schedule (warnings: the console still works)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from ternadmin import config

# Each window SchemaBot hard-codes, the setting that mirrors it, and what a difference does.
_SCHEMABOT_WINDOWS = (
    (
        "TERNADMIN_STALE_AFTER_SECONDS",
        config.SCHEMABOT_STALE_AFTER_SECONDS,
        "ternadmin and SchemaBot's operator would disagree about which drivers are dead",
    ),
    (
        "TERNADMIN_RETRY_BUDGET",
        config.SCHEMABOT_RETRY_BUDGET,
        "ternadmin and SchemaBot would disagree about when a retry is used up "
        "(one retries what the other expires)",
    ),
    (
        "TERNADMIN_RETRY_FRESHNESS_SECONDS",
        config.SCHEMABOT_RETRY_FRESHNESS_SECONDS,
        "ternadmin and SchemaBot would disagree about when a retry is too old to run",
    ),
)


def check_schemabot_windows(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A window other than SchemaBot's makes ternadmin claim or expire what SchemaBot would not."""
    warnings: list[checks.CheckMessage] = []
    for name, upstream, consequence in _SCHEMABOT_WINDOWS:
        value = getattr(settings, name)
        if value != upstream:
            warnings.append(
                checks.Warning(
                    f"{name}={value} differs from SchemaBot's {upstream}: {consequence}.",
                    hint=f"Unset {name} unless the SchemaBot you run beside was changed to match.",
                    id="ternadmin.W013",
                )
            )
    return warnings


def check_sweep(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from applies.schedules import sweep_schedule_problem

    warnings: list[checks.CheckMessage] = []
    interval = settings.TERNADMIN_SWEEP_INTERVAL_SECONDS
    stale = settings.TERNADMIN_STALE_AFTER_SECONDS
    if interval > stale:
        warnings.append(
            checks.Warning(
                f"TERNADMIN_SWEEP_INTERVAL_SECONDS={interval} is longer than the staleness "
                f"window TERNADMIN_STALE_AFTER_SECONDS={stale}: stale applies wait a whole "
                "interval before anyone reclaims them.",
                id="ternadmin.W010",
            )
        )
    q = settings.Q_CLUSTER
    if int(q["timeout"]) >= int(q["retry"]):  # type: ignore[call-overload]
        warnings.append(
            checks.Warning(
                f"TERNADMIN_Q_TIMEOUT={q['timeout']} must be below TERNADMIN_Q_RETRY="
                f"{q['retry']}: otherwise django-q2 redelivers a task that is still running.",
                id="ternadmin.W011",
            )
        )
    if problem := sweep_schedule_problem():
        warnings.append(
            checks.Warning(
                f"Background reclaim is off: {problem}.",
                hint="Run `python manage.py ensure_schedules` (migrate does it too).",
                id="ternadmin.W012",
            )
        )
    return warnings
