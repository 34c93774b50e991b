"""What a drive's writer leaves on SchemaBot's rows besides states: the resume state and the
timeline, each written only under the drive's lease."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from applies.leases import LeaseLost
from applies.models import Apply, ApplyLog, ApplyOperation
from applies.states import ApplyState
from tests.claim_fixtures import operation_of, reload
from tests.factories import set_heartbeat_age
from tests.test_recovery_line import held

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
VITESS_CONTEXT = "a1b2c3d4_e5f6_11ee_8a0b_0242ac120002:1700000000"


@pytest.mark.parametrize(
    ("stored", "kept"),
    [(VITESS_CONTEXT, VITESS_CONTEXT), (None, "apply-x"), ("", "apply-x")],
)
def test_resume_state_keeps_the_migration_context_schemabot_wrote(
    stored: str | None, kept: str
) -> None:
    apply, writer = held(A.RUNNING)
    ApplyOperation.objects.using("schemabot").filter(apply=apply).update(
        engine_resume_context=stored
    )

    writer.save_resume_state("apply-x", {"branch_name": "b", "deploy_request_id": 3})

    operation = operation_of(apply)
    assert operation.engine_resume_context == kept
    assert (operation.engine_resume_metadata or {})["deploy_request_id"] == 3


def test_a_timeline_row_is_written_only_while_the_lease_is_held() -> None:
    apply, writer = held(A.RUNNING)
    writer.log("Cutover of deploy request #3")
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(lease_token="someone-else")

    with pytest.raises(LeaseLost):
        writer.log("Cutover of deploy request #3 (again)")

    messages = (
        ApplyLog.objects.using("schemabot").filter(apply=apply).values_list("message", flat=True)
    )
    assert list(messages) == ["Cutover of deploy request #3"]


def test_a_timeline_row_leaves_the_heartbeat_alone() -> None:
    apply, writer = held(A.RUNNING)
    set_heartbeat_age(apply, 30)
    before = reload(apply).updated_at
    writer.log("noted")
    assert reload(apply).updated_at == before


def applies_updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE applies")]


def test_a_transition_writes_the_apply_row_once() -> None:
    apply, writer = held(A.RUNNING)
    with CaptureQueriesContext(connections["schemabot"]) as queries:
        writer.transition(A.RUNNING, A.WAITING_FOR_CUTOVER)
    assert len(applies_updates(queries)) == 1

    with CaptureQueriesContext(connections["schemabot"]) as queries:
        writer.transition(A.WAITING_FOR_CUTOVER, A.COMPLETED, started=True)
    (update,) = applies_updates(queries)
    assert "started_at = COALESCE(started_at" in update and "completed_at = COALESCE" in update
    row = reload(apply)
    assert (row.state, row.lease_token) == (A.COMPLETED, writer.lease.token)
    assert row.started_at is not None and row.completed_at is not None
