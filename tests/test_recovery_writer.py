"""What a drive's writer leaves on SchemaBot's rows besides states: the resume state and the
timeline, each written only under the drive's lease."""

from __future__ import annotations

import pytest

from applies.models import ApplyOperation
from applies.states import ApplyState
from tests.claim_fixtures import operation_of
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
    assert operation.engine_resume_metadata["deploy_request_id"] == 3
