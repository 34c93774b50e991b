"""factory-boy factories for SchemaBot's tables (all written to the ``schemabot`` database)."""

from __future__ import annotations

from typing import Any, TypeVar

import factory
from django.conf import settings

from applies import states
from applies.dbclock import SecondsAgo
from applies.models import (
    Apply,
    ApplyControlRequest,
    ApplyLog,
    ApplyOperation,
    Lock,
    Plan,
    SchemaBotTable,
    Task,
)

T = TypeVar("T", bound=SchemaBotTable)


class SchemaBotFactory(factory.django.DjangoModelFactory[T]):
    class Meta:
        abstract = True
        database = settings.SCHEMABOT_DATABASE


class LockFactory(SchemaBotFactory[Lock]):
    class Meta:
        model = Lock

    database_name = factory.Sequence(lambda n: f"orders_{n}")
    database_type = "vitess"
    repository = "acme/schemas"
    pull_request = factory.Sequence(lambda n: 100 + n)
    owner = "alice"


class PlanFactory(SchemaBotFactory[Plan]):
    class Meta:
        model = Plan

    plan_identifier = factory.Sequence(lambda n: f"plan-{n:08x}")
    database_name = factory.Sequence(lambda n: f"orders_{n}")
    database_type = "vitess"
    deployment = "default"
    repository = "acme/schemas"
    pull_request = 100
    environment = "staging"
    schema_files = factory.LazyFunction(lambda: {"orders.sql": "CREATE TABLE orders (id int)"})
    plan_data = factory.LazyFunction(dict)


class ApplyFactory(SchemaBotFactory[Apply]):
    class Meta:
        model = Apply

    apply_identifier = factory.Sequence(lambda n: f"apply-{n:08x}")
    lock = factory.SubFactory(LockFactory)
    plan = factory.SubFactory(PlanFactory)
    database_name = factory.SelfAttribute("plan.database_name")
    database_type = "vitess"
    repository = "acme/schemas"
    pull_request = 100
    environment = "staging"
    deployment = "default"
    engine = "planetscale"
    state = states.ApplyState.RUNNING
    options = factory.LazyFunction(dict)


class ApplyOperationFactory(SchemaBotFactory[ApplyOperation]):
    class Meta:
        model = ApplyOperation

    apply = factory.SubFactory(ApplyFactory)
    deployment = factory.SelfAttribute("apply.deployment")
    state = factory.SelfAttribute("apply.state")


class TaskFactory(SchemaBotFactory[Task]):
    class Meta:
        model = Task

    task_identifier = factory.Sequence(lambda n: f"task-{n:08x}")
    apply = factory.SubFactory(ApplyFactory)
    plan = factory.SelfAttribute("apply.plan")
    database_name = factory.SelfAttribute("apply.database_name")
    database_type = factory.SelfAttribute("apply.database_type")
    table_name = "orders"
    ddl = "ALTER TABLE orders ADD COLUMN note varchar(64)"
    ddl_action = "alter"
    engine = factory.SelfAttribute("apply.engine")
    repository = factory.SelfAttribute("apply.repository")
    pull_request = factory.SelfAttribute("apply.pull_request")
    environment = factory.SelfAttribute("apply.environment")
    state = states.TaskState.RUNNING


class ApplyLogFactory(SchemaBotFactory[ApplyLog]):
    class Meta:
        model = ApplyLog

    apply = factory.SubFactory(ApplyFactory)
    event_type = "state_transition"
    message = "Apply moved on"


class ApplyControlRequestFactory(SchemaBotFactory[ApplyControlRequest]):
    class Meta:
        model = ApplyControlRequest

    apply = factory.SubFactory(ApplyFactory)
    operation = "start"
    status = "pending"


def set_heartbeat_age(row: SchemaBotTable, seconds: int, **fields: Any) -> None:
    """Move a row's heartbeat ``seconds`` into the past by the database clock."""
    type(row).objects.using(settings.SCHEMABOT_DATABASE).filter(pk=row.pk).update(
        updated_at=SecondsAgo(seconds), **fields
    )
