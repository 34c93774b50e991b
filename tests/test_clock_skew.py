"""Staleness is the database's judgement: a skewed application clock changes no claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from applies import claims
from applies.classify import classify
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

CASES = [
    (ApplyState.CREATING_DEPLOY_REQUEST, STALE, True),
    (ApplyState.CREATING_DEPLOY_REQUEST, FRESH, False),
    (ApplyState.RUNNING, 45, False),
    (ApplyState.RUNNING, 75, True),
    (ApplyState.FAILED_RETRYABLE, 3600, True),
    (ApplyState.FAILED_RETRYABLE, 2 * 86_400, False),
]


@pytest.mark.parametrize("skew_hours", [-1, 1])
@pytest.mark.parametrize(("state", "age", "claimable"), CASES)
def test_claim_decisions_ignore_the_application_clock(
    skew_hours: int, state: str, age: int, claimable: bool
) -> None:
    apply = make_apply(state, age=age)
    skewed = datetime.now(UTC) + timedelta(hours=skew_hours)

    with time_machine.travel(skewed, tick=True):
        verdict = classify(apply)
        claimed = claims.claim_apply_by_id(apply.pk, "skewed-host/1/driver-0")

    assert (claimed is not None) is claimable
    assert (verdict.clause is not None) is claimable
    assert abs(verdict.heartbeat_age_seconds - age) <= 2
