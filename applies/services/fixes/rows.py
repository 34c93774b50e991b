"""The apply row a fix works on: locked, compared with what the person saw, judged alive or
not by the database clock, and its target checked for another active apply (domain.md §3.4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.db.models.expressions import Combinable

from applies import states
from applies.classify import duration
from applies.dbclock import AgeSeconds, DbNow, SecondsAgo
from applies.lines import current_line
from applies.models import Apply
from applies.redact import short_token
from applies.target_lock import other_active_apply_exists


class FixRefused(Exception):
    """The fix was refused and nothing was written; the message is for the person."""


class RowChanged(FixRefused):
    """The apply changed since the person loaded the page."""


class LiveDriver(FixRefused):
    """The apply's heartbeat is fresh: ending its driver's work needs ``confirm_live``."""


@dataclass(frozen=True)
class Seen:
    """What the person saw when they loaded the page: the compare-and-set expectation.

    ``token`` may be the lease token shortened (``redact.short_token``), as pages show it.
    """

    state: str
    token: str
    updated_at: datetime
    # A person who confirmed a live driver expects its heartbeat to keep moving: then only
    # the state and the lease token must match.
    live_confirmed: bool = False


def unlocked(apply_id: int) -> Apply:
    row = Apply.objects.filter(pk=apply_id).first()
    if row is None:
        raise FixRefused(f"Apply {apply_id} no longer exists; nothing was written.")
    return row


def locked(apply_id: int, seen: Seen) -> Apply:
    """The apply row, locked, with its heartbeat judged by the database clock."""
    fresh = SecondsAgo(settings.TERNADMIN_STALE_AFTER_SECONDS)
    recent = SecondsAgo(settings.TERNADMIN_RETRY_FRESHNESS_SECONDS)
    row = (
        Apply.objects.select_for_update()
        .annotate(
            heartbeat_age=AgeSeconds("updated_at"),
            heartbeat_fresh=ExpressionWrapper(
                Q(updated_at__gte=fresh), output_field=BooleanField()
            ),
            completed_recently=ExpressionWrapper(
                Q(completed_at__gte=recent), output_field=BooleanField()
            ),
        )
        .filter(pk=apply_id)
        .first()
    )
    if row is None:
        raise FixRefused(f"Apply {apply_id} no longer exists; nothing was written.")
    compare(row, seen)
    return row


def compare(row: Apply, seen: Seen) -> None:
    changed = []
    if row.state != seen.state:
        changed.append(f"state {seen.state or '(empty)'} → {row.state}")
    if short_token(row.lease_token) != short_token(seen.token):
        changed.append("its lease changed hands")
    moved = whole_seconds(row.updated_at) != whole_seconds(seen.updated_at)
    if moved and not (seen.live_confirmed and is_live(row)):
        changed.append("its heartbeat moved")
    if changed:
        raise RowChanged(
            f"{row} changed since you loaded the page ({'; '.join(changed)}); nothing was "
            "written. Review the current values and try again."
        )


def whole_seconds(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def require_target_free(row: Apply, target: Apply) -> None:
    where = (row.database_name, row.database_type, row.environment)
    if where != (target.database_name, target.database_type, target.environment):
        raise RowChanged(f"{row} moved to another target meanwhile; nothing was written.")
    if other_active_apply_exists(row, current_line()):
        holder = active_holder(row)
        raise FixRefused(
            f"Another active apply ({holder}) holds {row.database_name}/{row.database_type}/"
            f"{row.environment} (deployment {row.deployment or '(none)'}): SchemaBot allows "
            f"one active apply per target, so {row} cannot become active; nothing was written."
        )


def active_holder(row: Apply) -> str:
    holder = (
        Apply.objects.filter(
            database_name=row.database_name,
            database_type=row.database_type,
            environment=row.environment,
            deployment=row.deployment,
        )
        .exclude(state__in=states.TERMINAL_APPLY_STATES)
        .exclude(pk=row.pk)
        .values_list("apply_identifier", "state")
        .first()
    )
    return f"{holder[0]}, {holder[1]}" if holder else "unknown"


def require_who_and_why(actor: str, reason: str) -> None:
    if not actor.strip():
        raise FixRefused("A fix needs to say who made it.")
    if not reason.strip():
        raise FixRefused("A fix needs a reason; nothing was written.")


def is_live(row: Apply) -> bool:
    """A driver looks alive: not terminal, heartbeat fresh by the database clock."""
    terminal = states.apply_state(row.state).terminal
    return bool(row.heartbeat_fresh) and not terminal  # type: ignore[attr-defined]


def require_confirmation(row: Apply, confirm_live: bool) -> None:
    if confirm_live or not is_live(row):
        return
    age = row.heartbeat_age  # type: ignore[attr-defined]
    raise LiveDriver(
        f"{row} looks alive: its heartbeat is {duration(age)} old (stale after "
        f"{duration(settings.TERNADMIN_STALE_AFTER_SECONDS)}), lease owner "
        f"{row.lease_owner or '(none)'}. This fix ends that driver's work: confirm that you "
        "mean it. Nothing was written."
    )


def taken_from_driver(reset_heartbeat: bool) -> dict[str, Any]:
    """Clear the lease and set the heartbeat explicitly (pinned unless reset)."""
    heartbeat: Combinable = DbNow() if reset_heartbeat else F("updated_at")
    return {
        "lease_owner": "",
        "lease_token": "",
        "lease_acquired_at": None,
        "updated_at": heartbeat,
    }
