"""The foreground runner: repeat a driver's steps until one ends the drive.

Small on purpose: everything a drive knows lives in the database, so the runner only follows
``Next`` (run again now, or after a delay) and stops when the heartbeat finds the lease gone.
A scheduler that runs each step as its own task can replace it without touching a driver.
"""

from __future__ import annotations

from applies.engines.base import Driver, Next, lease_lost
from applies.leases import Lease
from applies.recovery.heartbeats import Heartbeat


def run_steps(driver: Driver, lease: Lease, heartbeat: Heartbeat) -> Next:
    while True:
        if heartbeat.lost.is_set():
            return lease_lost()
        outcome = driver.step(lease)
        if outcome.ends_drive:
            return outcome
        if outcome.delay > 0:
            heartbeat.wait(outcome.delay)
