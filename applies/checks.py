"""Start-up checks of the sweep's settings and schedule (warnings: the console still works)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


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
