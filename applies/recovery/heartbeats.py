"""The drive's heartbeat: a thread that refreshes the apply's ``updated_at`` every few seconds,
and the operation row's too when the claim leased one (SchemaBot's drives heartbeat the
operation rows they hold: pkg/api/operator.go, ``ApplyOperationHeartbeatInterval``).

When a heartbeat finds a lease gone (another claimer rotated the token), it sets ``lost``;
the driver checks it between steps and while waiting, so it stops within one heartbeat and
writes nothing more (every write is lease-guarded anyway).
"""

from __future__ import annotations

import logging
import threading

from django.db import connections

from applies.leases import Lease, LeaseLost, heartbeat

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, lease: Lease, interval: float, operation: Lease | None = None) -> None:
        self.lease = lease
        self.leases = [lease] if operation is None else [lease, operation]
        self.interval = interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{lease.row_id}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait(self, seconds: float) -> None:
        """Sleep, waking early when the lease is lost."""
        self.lost.wait(seconds)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    for lease in self.leases:
                        heartbeat(lease)
                except LeaseLost:
                    self.lost.set()
                    return
                except Exception:  # the database went away: keep trying, the window decides
                    logger.warning("heartbeat of apply %s failed", self.lease.row_id, exc_info=True)
        finally:
            connections.close_all()
