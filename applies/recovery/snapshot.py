"""An apply's persisted state as one drive step reads it, fresh from the database each time.

The apply row, its operation (the engine resume state lives there), its tasks, its plan and its
pending control requests. The desired schema is parsed from the plan only when a step needs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from applies.engines.base import CorruptResumeState
from applies.engines.planetscale.branch_changes import PlannedDDL
from applies.engines.planetscale.metadata import PlanetScaleMetadata
from applies.engines.planetscale.schema_files import DesiredSchema, desired_schema
from applies.engines.planetscale.types import deterministic_branch_name
from applies.models import Apply, ApplyControlRequest, ApplyOperation, Plan, Task
from applies.vocabulary import ControlOperation, RequestStatus

logger = logging.getLogger(__name__)
VSCHEMA_TASK = "vschema_update"  # tasks.ddl_action of a VSchema change: it has no DDL


@dataclass
class Snapshot:
    apply: Apply
    operation: ApplyOperation | None
    tasks: list[Task]
    plan: Plan | None
    metadata: PlanetScaleMetadata | None
    metadata_problem: str = ""  # why stored metadata could not be read
    requests: dict[str, ApplyControlRequest] = field(default_factory=dict)  # pending, by op

    @property
    def options(self) -> dict[str, object]:
        return self.apply.options if isinstance(self.apply.options, dict) else {}

    def option(self, name: str) -> bool:
        return bool(self.options.get(name))

    @property
    def never_started(self) -> bool:
        """No resume state because none was ever written: a first dispatch, which has created
        nothing yet (as opposed to resume state lost or unreadable on a started apply)."""
        return self.metadata is None and self.apply.started_at is None and not self.metadata_problem

    @property
    def branch(self) -> str:
        """The branch this apply works on (a step past the plan check always has one)."""
        name = self.named_branch
        assert name is not None
        return name

    @property
    def named_branch(self) -> str | None:
        """The branch: persisted, else the option, else SchemaBot's name for the plan; None
        when none of them is known (no resume state, no option, no plan)."""
        if self.metadata is not None:
            return self.metadata.branch_name
        chosen = str(self.options.get("branch") or "")
        if chosen or self.plan is None:
            return chosen or None
        return deterministic_branch_name(self.apply.database_name, self.plan.plan_identifier)

    def pending(self, operation: ControlOperation) -> ApplyControlRequest | None:
        return self.requests.get(operation.value)

    @cached_property
    def desired(self) -> DesiredSchema:
        """The plan's schema files; ``SchemaFilesError`` when they cannot be read."""
        assert self.plan is not None
        return desired_schema(self.plan.schema_files)

    @cached_property
    def planned_ddl(self) -> PlannedDDL:
        """Each table's DDL from the tasks, keyed by (keyspace, table). A task without a
        namespace belongs to the plan's only keyspace."""
        keyspaces = list(self.desired.keyspaces)
        only = keyspaces[0] if len(keyspaces) == 1 else ""
        return {
            (task.namespace or only, (task.table_name or "").lower()): task.ddl
            for task in self.tasks
            if task.ddl and task.ddl_action != VSCHEMA_TASK
        }


def load_snapshot(apply_id: int) -> Snapshot:
    apply = Apply.objects.get(pk=apply_id)
    operation = apply.operations.order_by("created_at", "id").first()
    tasks = list(Task.objects.filter(apply_id=apply_id).order_by("id"))
    plan = Plan.objects.filter(pk=apply.plan_id).first()
    requests = {
        request.operation: request
        for request in ApplyControlRequest.objects.filter(
            apply_id=apply_id, status=RequestStatus.PENDING
        )
    }
    metadata, problem = _metadata(operation)
    return Snapshot(apply, operation, tasks, plan, metadata, problem, requests)


def _metadata(operation: ApplyOperation | None) -> tuple[PlanetScaleMetadata | None, str]:
    if operation is None:
        return None, ""
    try:
        return PlanetScaleMetadata.from_json(operation.engine_resume_metadata), ""
    except CorruptResumeState as exc:
        logger.warning("operation %s: corrupt resume metadata: %s", operation.pk, exc)
        return None, str(exc)
