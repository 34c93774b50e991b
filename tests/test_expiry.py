"""expire_retryable(): retries out of budget or window become failed (docs/schemabot.md,
"Expiring retries")."""

from __future__ import annotations

import pytest

from applies.expiry import ExpiryReason, expire_retryable
from applies.models import ApplyLog, ApplyOperation, Task
from applies.states import ApplyState, TaskState
from tests.claim_fixtures import make_apply, reload

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])


def test_out_of_budget_and_out_of_window_retries_expire_with_their_reason() -> None:
    budget = make_apply(ApplyState.FAILED_RETRYABLE, age=60, attempt=10)
    window = make_apply(ApplyState.FAILED_RETRYABLE, age=2 * 86_400, attempt=2)
    fresh = make_apply(ApplyState.FAILED_RETRYABLE, age=60, attempt=2)
    Task.objects.using("schemabot").filter(apply=budget).update(state=TaskState.FAILED_RETRYABLE)

    expired = expire_retryable()

    assert {(e.apply_id, e.reason) for e in expired} == {
        (budget.pk, ExpiryReason.RETRY_BUDGET_EXHAUSTED),
        (window.pk, ExpiryReason.RECOVERY_WINDOW_EXPIRED),
    }
    for apply in (budget, window):
        row = reload(apply)
        assert row.state == ApplyState.FAILED and row.completed_at is not None
        task = Task.objects.using("schemabot").get(apply=apply)
        assert task.state == TaskState.FAILED and task.completed_at is not None
        assert ApplyOperation.objects.using("schemabot").get(apply=apply).state == "failed"
        log = ApplyLog.objects.using("schemabot").get(apply=apply)
        assert (log.source, log.old_state, log.new_state) == (
            "ternadmin",
            "failed_retryable",
            "failed",
        )
    assert reload(fresh).state == ApplyState.FAILED_RETRYABLE
    assert expire_retryable() == []


def test_dry_run_reports_and_changes_nothing() -> None:
    apply = make_apply(ApplyState.FAILED_RETRYABLE, age=60, attempt=11)
    before = reload(apply)

    expired = expire_retryable(dry_run=True)

    assert [e.apply_id for e in expired] == [apply.pk]
    after = reload(apply)
    assert (after.state, after.updated_at) == (before.state, before.updated_at)
    assert not ApplyLog.objects.using("schemabot").exists()
