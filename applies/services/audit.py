"""The audit trail of ternadmin's own actions: ``apply_logs`` rows with source ``ternadmin``.

Every operator action and every manual fix writes exactly one row, in the same transaction as
the change it describes, naming who did it and why, so SchemaBot's own timeline shows it.
"""

from __future__ import annotations

from typing import Any

from applies.models import ApplyLog
from applies.vocabulary import LogEvent, LogLevel, LogSource


def audit(
    apply_id: int,
    *,
    actor: str,
    message: str,
    event: LogEvent = LogEvent.INFO,
    level: LogLevel = LogLevel.INFO,
    old_state: str | None = None,
    new_state: str | None = None,
    reason: str = "",
    **metadata: Any,
) -> ApplyLog:
    """Append one ``apply_logs`` row for an action ``actor`` took on the apply."""
    details: dict[str, Any] = {"actor": actor, **metadata}
    if reason:
        details["reason"] = reason
    text = f"{message} (by {actor}" + (f": {reason})" if reason else ")")
    return ApplyLog.objects.create(
        apply_id=apply_id,
        level=level,
        event_type=event,
        source=LogSource.TERNADMIN,
        message=text,
        old_state=old_state,
        new_state=new_state,
        metadata=details,
    )
