"""The apply row a fix works on: locked, compared with what the person saw, judged alive or
not by the database clock, and its target checked for another active apply (docs/schemabot.md,
"The target lock")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.db.models.expressions import Combinable

from applies import states
from applies.dbclock import AgeSeconds, DbNow, SecondsAgo
from applies.durations import duration
from applies.lines import current_line
from applies.models import Apply
from applies.services.errors import LiveDriver, Refused, RowChanged
from applies.services.seen import Seen
from applies.target_lock import other_active_apply_exists
from applies.windows import heartbeat_fresh


def unlocked(apply_id: int) -> Apply:
    row = Apply.objects.filter(pk=apply_id).first()
    if row is None:
        raise Refused(f"Apply {apply_id} no longer exists; nothing was written.")
    return row


def locked(apply_id: int, seen: Seen, *, live_confirmed: bool = False) -> Apply:
    """The apply row, locked, with its heartbeat judged by the database clock, and compared
    with what the person saw (``RowChanged`` otherwise)."""
    recent = SecondsAgo(settings.TERNADMIN_RETRY_FRESHNESS_SECONDS)
    row = (
        Apply.objects.select_for_update()
        .annotate(
            heartbeat_age=AgeSeconds("updated_at"),
            heartbeat_fresh=heartbeat_fresh(),
            completed_recently=ExpressionWrapper(
                Q(completed_at__gte=recent), output_field=BooleanField()
            ),
        )
        .filter(pk=apply_id)
        .first()
    )
    if row is None:
        raise Refused(f"Apply {apply_id} no longer exists; nothing was written.")
    compare(row, seen, live_confirmed=live_confirmed)
    return row


def compare(row: Apply, seen: Seen, *, live_confirmed: bool) -> None:
    """A fix compares the heartbeat too. A person who confirmed a live driver expects it to
    keep beating: then only the state and the lease token must match."""
    if seen.heartbeat is None:
        raise Refused("The page was incomplete (no heartbeat); nothing was written.")
    changed = []
    if not seen.same_state(row):
        changed.append(f"state {seen.state or '(empty)'} → {row.state}")
    if not seen.same_lease(row):
        changed.append("its lease changed hands")
    moved = whole_seconds(row.updated_at) != whole_seconds(seen.heartbeat)
    if moved and not (live_confirmed and is_live(row)):
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
        raise Refused(
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
