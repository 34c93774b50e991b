"""Building applies in a given claim situation (state, heartbeat age, children, requests)."""

from __future__ import annotations

from typing import Any

from applies import db
from applies.dbclock import SecondsAgo
from applies.models import Apply, ApplyControlRequest, ApplyOperation
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


def rollout(
    *operation_states: str,
    parent_state: str = "running",
    policy: str = "rolling",
    on_failure: str = "halt",
    deployments: tuple[str, ...] | None = None,
    keys: tuple[str, ...] | None = None,
    age: int = FRESH,
    **fields: Any,
) -> tuple[Apply, list[ApplyOperation]]:
    """An apply with one operation per state, in deployment order (created in that order),
    each with one task, every row ``age`` seconds old; all operations share the policies.
    ``keys``: operation keys (current line), so one deployment may have several rows."""
    apply = ApplyFactory.create(state=parent_state, **fields)
    names = deployments or tuple(f"region-{n}" for n in range(len(operation_states)))
    operations = []
    for n, (state, deployment) in enumerate(zip(operation_states, names, strict=True)):
        op = ApplyOperationFactory.create(
            apply=apply,
            deployment=f"{deployment}#{n}" if keys else deployment,
            state=state,
            cutover_policy=policy,
            on_failure=on_failure,
        )
        if keys:  # unique per (apply, deployment, key): insert apart, then share the deployment
            set_operation_columns(op, deployment=deployment, operation_key=keys[n])
            op.deployment = deployment
        TaskFactory(apply=apply, apply_operation=op)
        set_heartbeat_age(op, age)
        operations.append(op)
    set_heartbeat_age(apply, age)
    apply.refresh_from_db()
    return apply, operations


def set_operation_columns(operation: ApplyOperation, **values: Any) -> None:
    """Write columns of the current line the model does not map (operation_key, attempt, …),
    keeping the heartbeat where it was."""
    sets = ", ".join(f"{name} = %s" for name in values)
    db.execute(
        f"UPDATE apply_operations SET {sets}, updated_at = updated_at WHERE id = %s",
        [*values.values(), operation.pk],
    )


def operation_column(operation: ApplyOperation, name: str) -> Any:
    row = db.fetchone(f"SELECT {name} FROM apply_operations WHERE id = %s", [operation.pk])
    assert row is not None
    return row[0]


def request(apply: Apply, operation: str, status: str = "pending", age: int = 0) -> None:
    ApplyControlRequestFactory(apply=apply, operation=operation, status=status)
    if age:
        ApplyControlRequest.objects.using("schemabot").filter(
            apply=apply, operation=operation
        ).update(updated_at=SecondsAgo(age))
