"""Staleness is the database's judgement: a skewed application clock changes no claim, no
brake cooldown, no drive's age and no sweep pass's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from applies import brake, claims
from applies.classify import classify, live
from applies.dbclock import PreciseNow
from applies.metrics import TernadminCollector
from applies.models import Brake
from applies.selectors.dashboard import sweep_health
from applies.states import ApplyState
from applies.sweep import run_sweep
from tests.claim_fixtures import FRESH, STALE, make_apply
from tests.drive_fixtures import claimed_drive

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


def skewed(hours: int) -> time_machine.travel:
    return time_machine.travel(datetime.now(UTC) + timedelta(hours=hours), tick=True)


@pytest.mark.parametrize(
    ("released_ago", "released_skew", "sweep_skew", "trips"),
    [
        (0, -1, 0, False),  # released a moment ago by a host an hour behind
        (0, 0, 1, False),  # evaluated by a host an hour ahead
        (700, 0, -1, True),  # cooled down (600 s) by the database's clock; the host is behind
    ],
)
def test_the_brake_cooldown_ignores_the_application_clock(
    settings: Any, released_ago: int, released_skew: int, sweep_skew: int, trips: bool
) -> None:
    settings.TERNADMIN_BRAKE_MIN_STALE = 2
    settings.TERNADMIN_BRAKE_COOLDOWN_SECONDS = 600
    for _ in range(3):
        make_apply(ApplyState.RUNNING, age=STALE)
    brake.engage("storm", by="sweep")
    with skewed(released_skew):
        assert brake.release(by="alice")
    if released_ago:
        Brake.objects.update(changed_at=PreciseNow(-released_ago))

    with skewed(sweep_skew):
        state = brake.evaluate(live(), dry_run=True, owner="skewed-host/1/sweep")

    assert state.engaged is trips


@pytest.mark.parametrize("skew_hours", [-1, 1])
def test_a_drive_s_age_is_the_database_s_judgement(skew_hours: int) -> None:
    with skewed(skew_hours):
        claimed_drive()

    (drive,) = sweep_health().drives

    assert abs(drive.age) <= 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("skew_hours", [-1, 1])
def test_a_sweep_pass_is_dated_by_the_database(skew_hours: int) -> None:
    with skewed(skew_hours):
        run_sweep(owner="skewed-host/1/sweep")

    (run,) = sweep_health().runs
    assert abs(run.age) <= 2  # type: ignore[attr-defined]
    since = next(
        sample.value
        for family in TernadminCollector().collect()
        for sample in family.samples
        if sample.name == "ternadmin_sweep_seconds_since_last_success"
    )
    assert 0 <= since <= 2
