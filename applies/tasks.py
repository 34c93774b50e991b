"""django-q2 entry points: thin adapters, and the one place that builds the sweep's owner id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

from applies.owners import owner_id

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def sweep(**options: Any) -> dict[str, Any]:
    """The scheduled reclaim sweep (one bounded pass)."""
    from applies.sweep import run_sweep

    return run_sweep(owner=owner_id("sweep"), **options).summary()


def start_drive(drive_id: int) -> int:
    """Start ``manage.py drive <id>`` detached and return at once.

    The drive outlives this task (and django-q2's ``timeout``); it is its own session, so a
    cluster shutdown does not take it down mid-step. A redelivered task starts a process that
    finds the drive taken and exits.
    """
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), "drive", str(drive_id)],
        cwd=settings.BASE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process.pid
