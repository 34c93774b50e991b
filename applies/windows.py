"""The recovery windows: the three numbers that decide what "stale" and "fresh" mean.

SchemaBot hard-codes them (upstream pkg/storage/mysqlstore/applies.go: a heartbeat older than 1
minute is stale, ``maxRecoveryAttempts`` 10, ``retryableRecoveryFreshnessDays`` 1; see
docs/schemabot.md, "Numbers"); ternadmin reads them from its settings, so the claim paths, the
console's explanations and the demo's seeded ages all agree on one reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, Q

from applies.dbclock import SecondsAgo


@dataclass(frozen=True)
class Windows:
    stale_after: int  # seconds: a heartbeat older than this is stale
    retry_budget: int  # attempts: a retry at or past this is never claimed
    retry_freshness: int  # seconds: a retry older than this is never claimed

    @classmethod
    def from_settings(cls) -> Windows:
        return cls(
            stale_after=settings.TERNADMIN_STALE_AFTER_SECONDS,
            retry_budget=settings.TERNADMIN_RETRY_BUDGET,
            retry_freshness=settings.TERNADMIN_RETRY_FRESHNESS_SECONDS,
        )


def heartbeat_fresh() -> ExpressionWrapper:
    """Whether a row's heartbeat (``updated_at``) is within the stale window, by the database
    clock, as a boolean column: the admin's pages and the fixes judge a driver alive alike."""
    fresh = SecondsAgo(Windows.from_settings().stale_after)
    return ExpressionWrapper(Q(updated_at__gte=fresh), output_field=BooleanField())
