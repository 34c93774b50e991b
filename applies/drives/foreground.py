"""A drive run in one process, in the foreground: ``manage.py recover``, ``manage.py drive`` and
the inline mode. The same steps as the loops (``step.step_once``), one after the other, with a
heartbeat thread of the drive's own; a lost lease stops it within one heartbeat.
"""

from __future__ import annotations

from django.conf import settings

from applies.drives.heartbeats import DriveHeartbeat
from applies.drives.schedule import take_foreground
from applies.drives.step import step_once
from applies.engines import Drivers
from applies.models import Drive
from applies.owners import owner_id


def run_foreground(drive_id: int, drivers: Drivers | None = None) -> Drive | None:
    """Drive a queued foreground drive to its end; None when another runner already took it.
    ``drivers`` defaults to the engines' (``applies.engines``)."""
    holder = owner_id("drive")
    taken = take_foreground(drive_id, holder)
    if taken is None:
        return None
    interval = float(settings.TERNADMIN_HEARTBEAT_SECONDS)
    with drivers or Drivers() as drivers, DriveHeartbeat(taken.drive, interval) as heartbeat:
        while taken is not None:
            result = step_once(taken, drivers)
            if result.ended:
                break
            heartbeat.wait(result.delay or 0.0)
            if heartbeat.lost.is_set():
                break  # the heartbeat has ended the drive as lease_lost
            taken = take_foreground(drive_id, holder)
    return Drive.objects.get(pk=drive_id)
