"""LocalScale's call log and injected faults: how tests see what a client did, and make the
API misbehave. Both are tables, so every server process and the test process share them."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from django.db.models import Count, F
from django.utils import timezone

from localscale import passwords
from localscale.errors import ApiError
from localscale.models import Call, CallKind, Fault

# Fault rules that change what a call does rather than how it is answered.
DEPLOY_REQUEST_ERROR = "deploy_request_error"  # the deploy request it creates fails validation
EFFECTS = (DEPLOY_REQUEST_ERROR,)

# The statistic each kind of call is counted under, per apply identifier.
STAT_NAMES: dict[str, str] = {
    CallKind.BRANCH_CREATED: "branches_created",
    CallKind.DEPLOY_REQUEST_CREATED: "deploy_requests_created",
    CallKind.DEPLOY: "deploys",
    CallKind.APPLY_DEPLOY: "apply_deploys",
    CallKind.REVERT: "reverts",
    CallKind.SKIP_REVERT: "skip_reverts",
    CallKind.CANCEL: "cancels",
    CallKind.PASSWORD_CREATED: "passwords_created",
    CallKind.PASSWORD_DELETED: "passwords_deleted",
    CallKind.VSCHEMA_UPDATED: "vschema_updates",
    CallKind.READ: "reads",
}


def record_call(
    method: str, path: str, kind: str, apply_identifier: str, status: int, effective: bool
) -> None:
    Call.objects.create(
        method=method,
        path=path[:512],
        kind=kind,
        apply_identifier=apply_identifier[:255],
        status=status,
        effective=effective,
        at=timezone.now(),
    )


def call_stats() -> dict[str, dict[str, int]]:
    """Per apply identifier: effective calls of each kind, plus ``calls`` (every call),
    ``failed_calls`` (answered with an error, injected or not) and ``live_passwords`` (branch
    passwords it created that are neither deleted nor expired: accounts still usable)."""
    stats: dict[str, dict[str, int]] = defaultdict(_empty_stats)
    rows = Call.objects.values("apply_identifier", "kind", "effective").annotate(n=Count("id"))
    for row in rows:
        entry = stats[row["apply_identifier"]]
        entry["calls"] += row["n"]
        if row["effective"] and row["kind"] in STAT_NAMES:
            entry[STAT_NAMES[row["kind"]]] += row["n"]
    failed = Call.objects.filter(status__gte=400).values("apply_identifier").annotate(n=Count("id"))
    for row in failed:
        stats[row["apply_identifier"]]["failed_calls"] += row["n"]
    for apply_identifier, live in passwords.live_counts()["per_apply"].items():
        stats[apply_identifier]["live_passwords"] = live
    return dict(sorted(stats.items()))


def _empty_stats() -> dict[str, int]:
    names = (*STAT_NAMES.values(), "calls", "failed_calls", "live_passwords")
    return dict.fromkeys(names, 0)


def add_fault(payload: dict[str, Any]) -> Fault:
    """A fault rule from ``{"method", "path", "status" | "conflict" | "effect", "delay_ms",
    "retry_after", "after", "count", "message"}``."""
    path = str(payload.get("path") or "")
    try:
        re.compile(path)
    except re.error as exc:
        raise ApiError(400, "bad_request", f"path is not a regular expression: {exc}") from None
    status = 409 if payload.get("conflict") else payload.get("status")
    delay_ms, count = payload.get("delay_ms", 0), payload.get("count", 1)
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise ApiError(400, "bad_request", "status must be an HTTP error status (400-599).")
    effect = str(payload.get("effect") or "")
    if effect and effect not in EFFECTS:
        raise ApiError(400, "bad_request", f"effect must be one of: {', '.join(EFFECTS)}.")
    if not _whole(delay_ms) or not _whole(count) or count < 1:
        raise ApiError(400, "bad_request", "delay_ms and count must be whole numbers, count >= 1.")
    if status is None and not delay_ms and not effect:
        raise ApiError(400, "bad_request", "need a status, a delay_ms or an effect.")
    return Fault.objects.create(
        method=str(payload.get("method") or "").upper(),
        path_regex=path,
        status=status,
        message=str(payload.get("message") or "")[:255],
        retry_after=payload.get("retry_after") if _whole(payload.get("retry_after")) else None,
        delay_ms=delay_ms,
        after=bool(payload.get("after")),
        effect=effect,
        remaining=count,
    )


def take_fault(method: str, path: str) -> Fault | None:
    """The first live rule matching this call, with one use consumed (race-free across
    processes: the decrement is conditional)."""
    for fault in Fault.objects.filter(remaining__gt=0).order_by("pk"):
        if fault.method not in {"", method} or not re.search(fault.path_regex, path):
            continue
        taken = Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        if taken:
            return fault
    return None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
