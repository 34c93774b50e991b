"""One never-driven pending apply, created the way SchemaBot creates one (standalone only).

Lock, plan, the apply in ``pending``, one operation and its tasks, in one transaction; nothing
driven yet, so the queued clause claims it and the driver starts it from the beginning.

The plan is consistent the way SchemaBot's are: its ``schema_files`` are the desired schema
(one ``{"Files": …}`` entry per keyspace, ``*.sql`` and ``vschema.json``), and its tasks carry,
per table, the DDL that takes the production schema (``before``) there. Whoever serves the
engine must start ``main`` at ``before`` for the drive to do real work.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.conf import settings

from applies import db
from applies.demo.guard import SeedRefused
from applies.models import Apply, ApplyOperation, Lock, Plan, Task
from applies.states import ApplyState, TaskState
from applies.vocabulary import DatabaseType, Engine
from ternadmin.config import STANDALONE

KEYSPACE = "shop"


@dataclass(frozen=True)
class FreshTask:
    keyspace: str
    table: str
    action: str  # tasks.ddl_action: create, alter, drop, vschema_update
    ddl: str | None


@dataclass(frozen=True)
class FreshPlan:
    before: dict[str, dict[str, str]]  # keyspace -> table -> CREATE TABLE: production now
    files: dict[str, dict[str, str]]  # keyspace -> file name -> content: the desired schema
    tasks: tuple[FreshTask, ...]

    def schema_files(self) -> dict[str, dict[str, dict[str, str]]]:
        return {keyspace: {"Files": files} for keyspace, files in self.files.items()}

    def production(self) -> dict[str, dict[str, object]]:
        """``before`` as the emulator's seeding takes it: ``{keyspace: {"tables": [DDL]}}``,
        with the VSchema the desired one replaces where the plan has one."""
        return {
            keyspace: {
                "tables": list(tables.values()),
                "vschema": VSCHEMA_BEFORE
                if "vschema.json" in self.files.get(keyspace, {})
                else None,
            }
            for keyspace, tables in self.before.items()
        }


ORDERS = "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY, total int NOT NULL)"
ORDERS_WITH_NOTE = (
    "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY, total int NOT NULL, note varchar(64))"
)
ORDER_NOTES = "CREATE TABLE order_notes (id bigint NOT NULL PRIMARY KEY, body text)"
VSCHEMA_BEFORE = json.dumps({"sharded": False, "tables": {"orders": {}}})
VSCHEMA_AFTER = json.dumps({"sharded": False, "tables": {"orders": {}, "order_notes": {}}})

# Two DDL statements in one keyspace: the default of ``seed_demo --fresh-apply planetscale``.
ORDERS_PLAN = FreshPlan(
    before={KEYSPACE: {"orders": ORDERS}},
    files={KEYSPACE: {"orders.sql": ORDERS_WITH_NOTE, "order_notes.sql": ORDER_NOTES}},
    tasks=(
        FreshTask(KEYSPACE, "orders", "alter", "ALTER TABLE orders ADD COLUMN note varchar(64)"),
        FreshTask(KEYSPACE, "order_notes", "create", ORDER_NOTES),
    ),
)


def create_fresh_apply(engine: str, plan: FreshPlan = ORDERS_PLAN) -> Apply:
    if settings.SCHEMABOT_MODE != STANDALONE:
        raise SeedRefused("--fresh-apply writes only into a standalone (scratch) database")
    if engine != Engine.PLANETSCALE:
        raise SeedRefused(f"--fresh-apply supports planetscale only, not {engine!r}")
    suffix = uuid.uuid4().hex[:12]
    database = f"shop_{suffix[:6]}"
    common = {"database_name": database, "database_type": DatabaseType.VITESS}
    pr = {"repository": "acme/schemas", "pull_request": 1}
    with db.atomic():
        lock = Lock.objects.create(**common, **pr, owner="demo")
        stored_plan = Plan.objects.create(
            **common,
            **pr,
            plan_identifier=f"plan-{suffix}",
            deployment="default",
            environment="staging",
            schema_path=f"schema/{database}",
            schema_files=plan.schema_files(),
            plan_data=_plan_data(plan),
        )
        apply = Apply.objects.create(
            **common,
            **pr,
            apply_identifier=f"apply-{suffix}",
            lock=lock,
            plan=stored_plan,
            environment="staging",
            deployment="default",
            engine=engine,
            state=ApplyState.PENDING,
            options={},
        )
        operation = ApplyOperation.objects.create(
            apply=apply, deployment="default", state=ApplyState.PENDING
        )
        for n, task in enumerate(plan.tasks):
            Task.objects.create(
                **common,
                **pr,
                task_identifier=f"task-{suffix}-{n}",
                apply=apply,
                apply_operation=operation,
                plan=stored_plan,
                namespace=task.keyspace,
                table_name=task.table,
                ddl=task.ddl,
                ddl_action=task.action,
                engine=engine,
                environment="staging",
                state=TaskState.PENDING,
            )
    return apply


def _plan_data(plan: FreshPlan) -> dict[str, object]:
    """``plans.plan_data`` as SchemaBot writes it: per namespace, its table changes."""
    data: dict[str, dict[str, list[dict[str, str]]]] = {}
    for task in plan.tasks:
        tables = data.setdefault(task.keyspace, {"tables": []})["tables"]
        tables.append(
            {"namespace": task.keyspace, "table": task.table, "ddl": task.ddl or "",
             "operation": task.action}
        )  # fmt: skip
    return dict(data)
