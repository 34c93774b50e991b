"""Time for the demo: the database clock reading every timestamp counts back from (how far
back "stale" and "fresh" are is ``applies.windows``).

Every timestamp is a whole-second offset ("ago") from the *database* clock: staleness is judged
by the database (``applies.dbclock``), so seeding from an app host with a skewed clock must not
make a "stale" apply look fresh there, or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTE, HOUR, DAY = 60, 3600, 86_400


@dataclass(frozen=True)
class Clock:
    now: datetime  # naive UTC, whole seconds, read from the database
    epoch: int  # the same instant in Unix seconds

    @classmethod
    def of(cls, now: datetime) -> Clock:
        """From an aware datetime (``database_now``)."""
        return cls(now.replace(microsecond=0, tzinfo=None), int(now.timestamp()))

    def at(self, ago: int | None) -> str | None:
        # Naive UTC text: what both SQLite and MySQL DATETIME columns hold.
        return None if ago is None else (self.now - timedelta(seconds=ago)).isoformat(" ")

    def rfc3339(self, ago: int) -> str:
        return (self.now - timedelta(seconds=ago)).isoformat() + "Z"
