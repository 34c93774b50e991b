"""What a drive writes follows the SchemaBot line, and its heartbeat refreshes the operation row
it holds. (A drive claimed to deliver a stop or a cancel runs the driver's steps, whose first
act is to honour the pending request: tests/test_planetscale_driver.py.)"""

from __future__ import annotations

import time
from typing import Any

import pytest

from applies.drives.heartbeats import DriveHeartbeat
from applies.leases import Lease
from applies.lines import Line
from applies.models import Apply, ApplyLog, ApplyOperation, Drive, Task
from applies.recovery.writer import DriveWriter
from applies.states import ApplyState
from tests.claim_fixtures import make_apply, operation_of, reload
from tests.factories import set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
TOKEN = "d21ve000-0000-4000-8000-000000000001"


def held(state: str, **fields: Any) -> tuple[Apply, DriveWriter]:
    """An apply this test's drive holds by lease, and the drive's writer."""
    apply = make_apply(state, **fields)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(lease_token=TOKEN)
    lease = Lease("applies", apply.pk, TOKEN, "ternadmin-test/1/drive")
    return reload(apply), DriveWriter(lease, operation_of(apply).pk)


# --- the line decides the words a drive writes ---------------------------------------------------


def test_a_drive_writes_the_state_the_line_calls_reverting(line: Line) -> None:
    apply, writer = held(A.REVERT_WINDOW)
    writer.transition(A.REVERT_WINDOW, A.REVERTING)
    # b2349ea maps a reverting deploy request to running (deployStateToEngineState@b2349ea).
    expected = A.REVERTING if line.knows(A.REVERTING) else A.RUNNING
    assert reload(apply).state == expected
    assert operation_of(apply).state == expected
    assert set(
        Task.objects.using("schemabot").filter(apply=apply).values_list("state", flat=True)
    ) == {expected}
    log = ApplyLog.objects.using("schemabot").get(apply=apply)
    assert log.new_state == expected


def test_a_state_the_line_has_no_word_for_is_refused_and_nothing_is_written(
    settings: Any,
) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "b2349ea"
    apply, writer = held(A.RUNNING)
    with pytest.raises(ValueError, match="SchemaBot b2349ea has no state 'paused'"):
        writer.transition(A.RUNNING, A.PAUSED)
    assert reload(apply).state == A.RUNNING
    assert not ApplyLog.objects.using("schemabot").filter(apply=apply).exists()


# --- heartbeats of the operation row --------------------------------------------------------------


def drive_holding(apply: Apply, operation: ApplyOperation) -> Drive:
    return Drive.objects.create(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        owner="me",
        lease_token=TOKEN,
        operation_id=operation.pk,
        operation_lease_token=TOKEN,
        trigger="test",
        runner=Drive.Runner.FOREGROUND,
        outcome=Drive.Outcome.RUNNING,
    )


@pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])
def test_the_heartbeat_refreshes_the_operation_row_it_holds() -> None:
    apply = make_apply(A.RUNNING, age=300)
    operation = operation_of(apply)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(lease_token=TOKEN)
    ApplyOperation.objects.using("schemabot").filter(pk=operation.pk).update(lease_token=TOKEN)
    set_heartbeat_age(apply, 300)
    set_heartbeat_age(operation, 300)
    with DriveHeartbeat(drive_holding(apply, operation), 0.05) as beat:
        deadline = time.monotonic() + 10
        while operation_of(apply).updated_at <= operation.updated_at:
            assert time.monotonic() < deadline, "the operation row's heartbeat never moved"
            time.sleep(0.05)
        assert not beat.lost.is_set()
    assert reload(apply).updated_at > apply.updated_at


@pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])
def test_losing_the_operation_lease_stops_the_drive() -> None:
    apply = make_apply(A.RUNNING)
    operation = operation_of(apply)
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(lease_token=TOKEN)
    ApplyOperation.objects.using("schemabot").filter(pk=operation.pk).update(lease_token="peer")
    drive = drive_holding(apply, operation)
    with DriveHeartbeat(drive, 0.05) as beat:
        assert beat.lost.wait(10)
    drive.refresh_from_db()
    assert drive.outcome == Drive.Outcome.LEASE_LOST and "operation" in drive.message
