"""Building applies in a given claim situation (state, heartbeat age, children, requests)."""

from __future__ import annotations

from typing import Any

from applies.models import Apply, ApplyOperation
from tests.factories import (
    ApplyControlRequestFactory,
    ApplyFactory,
    ApplyOperationFactory,
    TaskFactory,
    set_heartbeat_age,
)

STALE = 120  # seconds: past the default 60 s window
FRESH = 0


def make_apply(
    state: str,
    *,
    age: int = STALE,
    tasks: int = 1,
    operation: bool = True,
    start_request: str | None = None,
    **fields: Any,
) -> Apply:
    """An apply in ``state`` whose heartbeat is ``age`` seconds old by the database clock."""
    apply = ApplyFactory.create(state=state, **fields)
    op = ApplyOperationFactory.create(apply=apply, state=state) if operation else None
    for _ in range(tasks):
        TaskFactory(apply=apply, apply_operation=op)
    if start_request:
        ApplyControlRequestFactory(apply=apply, operation="start", status=start_request)
    set_heartbeat_age(apply, age)
    if op is not None:
        set_heartbeat_age(op, age)
    apply.refresh_from_db()
    return apply


def operation_of(apply: Apply) -> ApplyOperation:
    return ApplyOperation.objects.using("schemabot").get(apply=apply)


def reload(apply: Apply) -> Apply:
    return Apply.objects.using("schemabot").get(pk=apply.pk)
