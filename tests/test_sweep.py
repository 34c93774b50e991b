"""One sweep pass: what it claims, what it leaves, the brake, history, schedule and metrics."""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import Client
from django_q.models import Schedule

from applies import brake
from applies.checks import check_sweep
from applies.classify import classify
from applies.dbclock import PreciseNow
from applies.drives.schedule import take_foreground
from applies.lines import Line
from applies.models import Apply, Drive, SweepRun
from applies.schedules import SWEEP_SCHEDULE, ensure_schedules
from applies.states import SETUP_PHASE_STATES, ApplyState
from applies.sweep import run_sweep
from tests.claim_fixtures import FRESH, STALE, make_apply, reload, request, rollout
from tests.drive_fixtures import claimed_drive
from tests.factories import set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])
OWNER = "test-host/1/sweep"


def mixed_world() -> dict[str, Any]:
    return {
        "stale_setup": [make_apply(state, age=STALE) for state in SETUP_PHASE_STATES],
        "fresh": [make_apply(ApplyState.RUNNING, age=FRESH) for _ in range(2)],
        "spirit": make_apply(ApplyState.RUNNING, engine="spirit", database_type="mysql"),
        "wedged": make_apply("teleporting"),
        "expired": make_apply(ApplyState.FAILED_RETRYABLE, attempt=10),
    }


def test_dry_run_predicts_the_pass_and_writes_nothing() -> None:
    world = mixed_world()
    before = {a.pk: (a.state, a.lease_token, a.updated_at) for a in Apply.objects.all()}

    predicted = run_sweep(owner=OWNER, dry_run=True)

    after = {a.pk: (a.state, a.lease_token, a.updated_at) for a in Apply.objects.all()}
    assert after == before
    assert not SweepRun.objects.exists() and not Drive.objects.exists()
    expected = {a.pk for a in world["stale_setup"]}
    assert {u.apply_id for u in predicted.would_claim} == expected
    assert [s["apply_id"] for s in predicted.skipped] == [world["spirit"].pk]
    assert [w["apply_id"] for w in predicted.wedged] == [world["wedged"].pk]
    assert [e["apply_id"] for e in predicted.expired_retryable] == [world["expired"].pk]

    done = run_sweep(owner=OWNER)

    assert {u.apply_id for u in done.claimed} == expected
    assert {u.clause for u in done.claimed} == {"stale_active"}
    assert all(reload(a).lease_owner == OWNER for a in world["stale_setup"])
    assert all(reload(a).lease_token == "" for a in world["fresh"])
    assert reload(world["spirit"]).lease_token == ""
    assert reload(world["expired"]).state == ApplyState.FAILED
    drives = Drive.objects.all()
    assert {d.apply_id for d in drives} == expected
    assert {d.outcome for d in drives} == {Drive.Outcome.QUEUED}
    run = SweepRun.objects.get()
    assert (run.owner, run.claimed, run.expired, run.skipped, run.wedged, run.errors) == (
        OWNER,
        5,
        1,
        1,
        1,
        0,
    )
    assert run.report["by_clause"] == {"stale_active": 5}
    assert run_sweep(owner=OWNER).claimed == []  # just claimed: fresh heartbeats now


def test_the_row_limit_bounds_a_pass() -> None:
    for _ in range(4):
        make_apply(ApplyState.RUNNING)
    assert len(run_sweep(owner=OWNER, limit=3).claimed) == 3
    assert len(run_sweep(owner=OWNER, limit=3).claimed) == 1


def test_operation_level_pass_claims_operation_then_parent() -> None:
    apply = make_apply(ApplyState.VALIDATING_BRANCH)
    report = run_sweep(owner=OWNER, claim_operations=True)
    assert [(u.apply_id, u.path) for u in report.claimed] == [(apply.pk, "operation")]
    assert reload(apply).lease_owner == OWNER
    assert apply.operations.get().lease_owner == OWNER


def test_the_brake_trips_on_mass_staleness_and_releases_on_request() -> None:
    stale = [make_apply(ApplyState.RUNNING, age=STALE) for _ in range(50)]
    for _ in range(10):
        make_apply(ApplyState.RUNNING, age=FRESH)

    stopped = run_sweep(owner=OWNER, limit=100)

    assert stopped.claimed == []
    assert stopped.brake["engaged"] and "50 of 60 active applies" in stopped.brake["reason"]
    assert brake.current().engaged
    assert SweepRun.objects.get().brake_engaged
    assert all(reload(a).lease_token == "" for a in stale)
    assert run_sweep(owner=OWNER, limit=100).claimed == []  # stays engaged

    assert brake.release(by="alice")
    released = run_sweep(owner=OWNER, limit=100)

    assert len(released.claimed) == 50 and not released.brake["engaged"]


def test_a_pass_prunes_the_drives_that_ended_before_the_history_it_keeps(settings: Any) -> None:
    settings.TERNADMIN_SWEEP_HISTORY_DAYS = 14
    cases = {  # name: (started, finished) days ago; finished None: still running
        "ended long ago": (20, 15),
        "ran long, ended lately": (20, 1),
        "still running": (20, None),
        "ended lately": (1, 1),
    }
    drives: dict[str, Drive] = {}
    for name, (started, finished) in cases.items():
        drives[name] = claimed_drive()
        rows = Drive.objects.filter(pk=drives[name].pk)
        rows.update(started_at=PreciseNow(-started * 86_400))
        if finished is not None:
            rows.update(outcome=Drive.Outcome.COMPLETED, finished_at=PreciseNow(-finished * 86_400))

    run_sweep(owner=OWNER)

    kept = set(Drive.objects.values_list("pk", flat=True))
    assert {name for name, drive in drives.items() if drive.pk in kept} == {
        "ran long, ended lately",
        "still running",
        "ended lately",
    }


def test_a_duplicate_delivery_of_a_drive_does_nothing() -> None:
    make_apply(ApplyState.RUNNING)
    run_sweep(owner=OWNER)
    drive = Drive.objects.get()
    assert take_foreground(drive.pk, "node-a/1/drive") is not None
    assert take_foreground(drive.pk, "node-b/2/drive") is None


def test_sweep_command_json_dry_run() -> None:
    apply = make_apply(ApplyState.CREATING_DEPLOY_REQUEST)
    out = StringIO()
    call_command("sweep", "--dry-run", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert set(report) >= {
        "would_claim",
        "expired_retryable",
        "skipped",
        "wedged",
        "errors",
        "duration_s",
    }
    assert report["would_claim"] == [
        {
            "apply_id": apply.pk,
            "apply_identifier": apply.apply_identifier,
            "state": "creating_deploy_request",
            "engine": "planetscale",
            "path": "apply",
            "clause": "stale_active",
        }
    ]
    assert reload(apply).lease_token == ""


def test_schedule_is_upserted_by_name() -> None:
    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=SWEEP_SCHEDULE)
    assert (schedule.func, schedule.minutes, schedule.repeats) == ("applies.tasks.sweep", 1, -1)


def test_checks_warn_about_a_missing_schedule_and_contradictions(settings: Any) -> None:
    ids = lambda: {m.id for m in check_sweep()}  # noqa: E731
    ensure_schedules()
    assert ids() == set()
    Schedule.objects.filter(name=SWEEP_SCHEDULE).delete()
    settings.TERNADMIN_SWEEP_INTERVAL_SECONDS = 120
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 400, "retry": 360}
    assert ids() == {"ternadmin.W010", "ternadmin.W011", "ternadmin.W012"}
    assert all(isinstance(m, checks.Warning) for m in check_sweep())


def test_metrics_are_public_by_default_and_can_require_a_token(settings: Any) -> None:
    make_apply(ApplyState.VALIDATING_BRANCH)
    make_apply("teleporting")
    run_sweep(owner=OWNER)

    body = Client().get("/metrics").content.decode()

    assert 'ternadmin_applies_classified{classification="wedged"} 1.0' in body
    assert 'ternadmin_applies{engine="planetscale",state="validating_branch"} 1.0' in body
    assert "ternadmin_sweep_seconds_since_last_success" in body
    assert 'ternadmin_drives{outcome="queued",trigger="sweep"} 1.0' in body
    assert "ternadmin_brake_engaged 0.0" in body

    settings.TERNADMIN_METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    authorized = Client().get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert authorized.status_code == 200


def test_metrics_count_the_drive_loops_and_the_oldest_heartbeat_they_hold(settings: Any) -> None:
    settings.TERNADMIN_DRIVE_MODE = "loops"
    applies = [make_apply(ApplyState.RUNNING), make_apply(ApplyState.VALIDATING_BRANCH)]
    report = run_sweep(owner=OWNER)
    assert len(report.claimed) == 2 and report.loops_started == [0]
    set_heartbeat_age(reload(applies[1]), 42)  # no loop ran yet: nobody heartbeats them

    body = Client().get("/metrics").content.decode()

    assert 'ternadmin_drive_loops{state="configured"} 1.0' in body
    assert 'ternadmin_drive_loops{state="running"} 0.0' in body  # enqueued, not started
    assert "ternadmin_drives_running 2.0" in body
    oldest = re.search(r"^ternadmin_driven_oldest_heartbeat_seconds (\S+)$", body, re.M)
    assert oldest is not None and 42 <= float(oldest[1]) <= 44  # a second may tick meanwhile


def test_an_operation_level_pass_records_the_operation_lease_on_the_drive() -> None:
    apply = make_apply(ApplyState.VALIDATING_BRANCH)
    run_sweep(owner=OWNER, claim_operations=True)
    drive = Drive.objects.get(apply_id=apply.pk)
    operation = apply.operations.get()
    assert (drive.operation_id, drive.operation_lease_token) == (
        operation.pk,
        operation.lease_token,
    )
    assert drive.lease_token == reload(apply).lease_token != drive.operation_lease_token


def test_an_operation_level_pass_reconciles_a_stranded_stop_first(line: Line) -> None:
    older = make_apply(ApplyState.RUNNING)  # stale: the copy claim would take it
    stranded, _ = rollout(ApplyState.PENDING, parent_state=ApplyState.RUNNING)
    request(stranded, "stop")

    report = run_sweep(owner=OWNER, claim_operations=True, limit=1)

    [unit] = report.claimed
    if line.stop_reconciliation:
        assert (unit.apply_id, unit.path, unit.clause) == (
            stranded.pk,
            "stop_reconciliation",
            "stop_reconciliation",
        )
        assert Drive.objects.get().clause == "stop_reconciliation"
    else:
        assert (unit.apply_id, unit.path) == (older.pk, "operation")


def test_an_apply_level_pass_never_claims_a_multi_operation_apply(line: Line) -> None:
    # An operation-scoped SchemaBot drive never heartbeats the parent: it looks stale.
    rolling, _ = rollout(ApplyState.RUNNING, ApplyState.PENDING, age=STALE)
    single = make_apply(ApplyState.RUNNING)

    report = run_sweep(owner=OWNER, claim_operations=False)

    assert [u.apply_id for u in report.claimed] == [single.pk]
    assert reload(rolling).lease_token == ""


@pytest.mark.parametrize("mode", [None, False, True], ids=["line-default", "apply", "operation"])
def test_the_pass_claims_as_the_line_and_the_console_names_its_clause(
    line: Line, settings: Any, mode: bool | None
) -> None:
    """A pending apply whose stop is pending: SchemaBot's operator on the current line (operation
    claims, the default since #431) keeps its pending operation from starting (pending-stop
    gate) and reconciles the stop; apply-level claims, and b2349ea's operation claim, start it."""
    settings.TERNADMIN_CLAIM_OPERATIONS = mode
    stranded, _ = rollout(ApplyState.PENDING, parent_state=ApplyState.PENDING)
    request(stranded, "stop")
    predicted = classify(reload(stranded))

    report = run_sweep(owner=OWNER, limit=1)

    [unit] = report.claimed
    operations = line.claims_operations if mode is None else mode
    reconciles = operations and line.stop_reconciliation
    assert unit.clause == ("stop_reconciliation" if reconciles else "queued")
    assert predicted.clause == unit.clause and predicted.claimed_by == "ternadmin"
