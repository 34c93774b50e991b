"""Drives: a claimed apply driven to an end state as short durable steps.

A drive is a row (``applies.models.Drive``), not a process. The claimer records it
(``records``); the drive loops (``loops``), a fixed number of long-running django-q2 tasks
(``slots``), take the most overdue due drive (``schedule``), run exactly one step of its driver
(``step``) and write when the next is due. Every step is a resume from persisted state, fenced
by the apply's lease token and the drive's step sequence. Each loop also runs heartbeat threads:
one renews the hold of its step, one refreshes its share of the running drives' leases in one
statement (``heartbeats``), so a backlog of steps never makes a live apply look stale.
``foreground`` runs the same steps in one process, for ``manage.py recover`` and the inline and
manual modes.
"""

from __future__ import annotations

from applies.drives.records import launch_drive, record_drive

__all__ = ["launch_drive", "record_drive"]
