"""The sweep's django-q2 ``Schedule``, upserted by name (on ``migrate`` and ``ensure_schedules``).

Idempotent: running it again updates the one row named ``SWEEP_SCHEDULE`` to the current
settings instead of adding another. ``catch_up`` stays off (a cluster that was down does not
fire every missed pass at once); the lease makes an overlapping pass harmless anyway.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError
from django_q.models import Schedule

SWEEP_SCHEDULE = "ternadmin-sweep"
SWEEP_FUNC = "applies.tasks.sweep"


def sweep_minutes() -> int:
    return max(1, settings.TERNADMIN_SWEEP_INTERVAL_SECONDS // 60)


def ensure_schedules() -> Schedule:
    schedule, _ = Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={
            "func": SWEEP_FUNC,
            "schedule_type": Schedule.MINUTES,
            "minutes": sweep_minutes(),
            "repeats": -1,
        },
    )
    return schedule


def sweep_schedule_problem() -> str | None:
    """Why the sweep would not run on schedule, or ``None``; tolerant of an unmigrated DB."""
    try:
        schedule = Schedule.objects.filter(name=SWEEP_SCHEDULE).first()
    except DatabaseError:
        return None  # not migrated yet: migrate creates it
    if schedule is None:
        return f"the {SWEEP_SCHEDULE} schedule is missing"
    if schedule.func != SWEEP_FUNC or schedule.repeats == 0:
        return f"the {SWEEP_SCHEDULE} schedule does not run {SWEEP_FUNC}"
    return None
