"""One never-driven pending apply, created the way SchemaBot creates one (standalone only).

Lock, plan, the apply in ``pending``, one operation and its tasks, in one transaction; nothing
driven yet, so the queued clause claims it and the driver starts it from the beginning.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction

from applies.demo.guard import SeedRefused
from applies.models import Apply, ApplyOperation, Lock, Plan, Task
from applies.states import ApplyState, TaskState
from applies.vocabulary import DatabaseType, Engine
from ternadmin.config import STANDALONE

STATEMENTS = (
    "ALTER TABLE orders ADD COLUMN note varchar(64)",
    "CREATE TABLE order_notes (id bigint NOT NULL PRIMARY KEY, body text)",
)


def create_fresh_apply(engine: str) -> Apply:
    if settings.SCHEMABOT_MODE != STANDALONE:
        raise SeedRefused("--fresh-apply writes only into a standalone (scratch) database")
    if engine != Engine.PLANETSCALE:
        raise SeedRefused(f"--fresh-apply supports planetscale only, not {engine!r}")
    db = settings.SCHEMABOT_DATABASE
    suffix = uuid.uuid4().hex[:12]
    database = f"shop_{suffix[:6]}"
    common = {"database_name": database, "database_type": DatabaseType.VITESS}
    with transaction.atomic(using=db):
        lock = Lock.objects.using(db).create(
            **common, repository="acme/schemas", pull_request=1, owner="demo"
        )
        plan = Plan.objects.using(db).create(
            **common,
            plan_identifier=f"plan-{suffix}",
            deployment="default",
            repository="acme/schemas",
            pull_request=1,
            environment="staging",
            schema_files={"orders.sql": ";\n".join(STATEMENTS)},
            plan_data={},
        )
        apply = Apply.objects.using(db).create(
            **common,
            apply_identifier=f"apply-{suffix}",
            lock=lock,
            plan=plan,
            repository="acme/schemas",
            pull_request=1,
            environment="staging",
            deployment="default",
            engine=engine,
            state=ApplyState.PENDING,
            options={},
        )
        operation = ApplyOperation.objects.using(db).create(
            apply=apply, deployment="default", state=ApplyState.PENDING
        )
        for n, ddl in enumerate(STATEMENTS):
            Task.objects.using(db).create(
                **common,
                task_identifier=f"task-{suffix}-{n}",
                apply=apply,
                apply_operation=operation,
                plan=plan,
                table_name=ddl.split()[2],
                ddl=ddl,
                ddl_action=ddl.split()[0].lower(),
                engine=engine,
                repository="acme/schemas",
                pull_request=1,
                environment="staging",
                state=TaskState.PENDING,
            )
    return apply
