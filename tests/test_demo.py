"""seed_demo: the guaranteed recovery cases are there, PlanetScale resume state fits each phase,
the data is deterministic, and seeding never overwrites rows or touches an attached SchemaBot."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from applies import demo
from applies.dbclock import SecondsAgo
from applies.models import (
    SCHEMABOT_MODELS,
    Apply,
    ApplyControlRequest,
    ApplyOperation,
    Lock,
    Plan,
    Task,
)
from applies.states import (
    ACTIVE_APPLY_STATES,
    CLAIMABLE_APPLY_STATES,
    SETUP_PHASE_STATES,
    TERMINAL_APPLY_STATES,
    ApplyState,
    apply_state,
)
from applies.vocabulary import ControlOperation, Engine, LogEvent, RequestStatus

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

APPLIES = 60
LEASE_OWNER = re.compile(r"^host-[a-z]+/\d+/driver-\d+$")
# Which PlanetScale resume metadata a state implies (docs/schemabot.md, "PlanetScale resume state"
# and "The PlanetScale engine"). Failed, paused and retrying applies may have stopped at any
# phase, so only their consistency is checked.
PHASE_OF_STATE: dict[str, str] = {
    **dict.fromkeys(SETUP_PHASE_STATES, "branch"),
    ApplyState.VALIDATING_DEPLOY_REQUEST: "deploy_request",
    ApplyState.WAITING_FOR_DEPLOY: "deploy_request",
    **dict.fromkeys(
        (
            ApplyState.RUNNING,
            ApplyState.WAITING_FOR_CUTOVER,
            ApplyState.CUTTING_OVER,
            ApplyState.REVERT_WINDOW,
            ApplyState.COMPLETED,
            ApplyState.REVERTED,
        ),
        "deployed",
    ),
}


def seed_demo(**options: Any) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **{"applies": APPLIES, **options})
    return out.getvalue()


def stale() -> Q:
    return Q(updated_at__lt=SecondsAgo(settings.TERNADMIN_STALE_AFTER_SECONDS))


def row_counts() -> dict[str, int]:
    return {model._meta.db_table: model.objects.count() for model in SCHEMABOT_MODELS}


def shape() -> list[tuple[Any, ...]]:
    """Everything about the applies except the identifiers' time prefix and absolute times."""
    return list(
        Apply.objects.order_by("id").values_list(
            "state", "engine", "database_name", "environment", "deployment", "attempt",
            "lease_owner", "options", "pull_request",
        )
    )  # fmt: skip


def test_summary_counts_match_the_tables() -> None:
    out = seed_demo()
    counts = row_counts()
    assert counts["applies"] == APPLIES
    assert counts["plans"] == APPLIES
    assert counts["apply_operations"] == APPLIES
    assert counts["tasks"] >= APPLIES
    assert counts["apply_logs"] > APPLIES
    assert counts["apply_control_requests"] > 0
    for table, count in counts.items():
        assert f"{table}={count:,}" in out


def test_progress_is_printed_only_at_verbosity_2() -> None:
    assert "applies (" not in seed_demo()
    assert f"{APPLIES}/{APPLIES} applies" in seed_demo(reset=True, verbosity=2)


def test_a_stale_planetscale_apply_in_every_setup_phase() -> None:
    seed_demo()
    for state in SETUP_PHASE_STATES:
        assert Apply.objects.filter(stale(), state=state, engine=Engine.PLANETSCALE).exists(), state


@pytest.mark.parametrize(
    ("state", "engine"),
    [
        (ApplyState.RUNNING, Engine.PLANETSCALE),
        (ApplyState.WAITING_FOR_CUTOVER, Engine.PLANETSCALE),
        (ApplyState.REVERT_WINDOW, Engine.PLANETSCALE),
        (ApplyState.RUNNING, Engine.SPIRIT),
        (ApplyState.WAITING_FOR_CUTOVER, Engine.SPIRIT),
    ],
)
def test_stale_applies_in_other_claimable_states(state: str, engine: str) -> None:
    seed_demo()
    assert Apply.objects.filter(stale(), state=state, engine=engine).exists()


def test_fresh_active_applies_hold_a_live_lease() -> None:
    seed_demo()
    fresh = Apply.objects.filter(~stale(), state__in=CLAIMABLE_APPLY_STATES)
    assert fresh.filter(engine=Engine.PLANETSCALE).count() >= 3
    assert fresh.filter(engine=Engine.SPIRIT).exists()
    for apply in fresh:
        assert LEASE_OWNER.match(apply.lease_owner)
        assert uuid.UUID(apply.lease_token).version == 4
        assert apply.lease_acquired_at is not None
        assert apply.completed_at is None


def test_a_slow_seed_still_leaves_its_fresh_applies_fresh(monkeypatch: Any) -> None:
    # The history is timed from the first clock reading, which here is ten minutes old by the
    # time the recent applies are written, as on a million-row seed.
    real_now = demo.database_now
    offsets = iter([timedelta(minutes=-10)])
    monkeypatch.setattr(
        demo, "database_now", lambda using: real_now(using) + next(offsets, timedelta(0))
    )
    seed_demo()
    fresh = Apply.objects.filter(~stale(), state__in=CLAIMABLE_APPLY_STATES)
    assert fresh.count() >= 4


def test_failed_retryable_within_and_beyond_budget_and_too_old() -> None:
    seed_demo()
    budget = settings.TERNADMIN_RETRY_BUDGET
    fresh = Q(updated_at__gte=SecondsAgo(settings.TERNADMIN_RETRY_FRESHNESS_SECONDS))
    retrying = Apply.objects.filter(state=ApplyState.FAILED_RETRYABLE)
    assert retrying.filter(fresh, attempt__lt=budget).exists()
    assert retrying.filter(fresh, attempt__gte=budget).exists()
    assert retrying.filter(~fresh, attempt__lt=budget).exists()
    assert not retrying.exclude(completed_at=None).exists()


def test_paused_and_a_state_no_claim_path_covers() -> None:
    seed_demo()
    assert Apply.objects.filter(state=ApplyState.PAUSED).exists()
    unknown = Apply.objects.get(state=demo.UNKNOWN_STATE)
    assert not apply_state(unknown.state).known
    assert unknown.operations.get().state == demo.UNKNOWN_STATE


def test_queued_pending_apply_has_tasks_and_no_lease() -> None:
    seed_demo()
    queued = Apply.objects.filter(state=ApplyState.PENDING, started_at=None, lease_token="")
    assert queued.exists()
    for apply in queued:
        assert apply.tasks.exists()


def test_start_requests_wait_on_a_stopped_and_a_deferred_apply() -> None:
    seed_demo()
    pending_starts = ApplyControlRequest.objects.filter(
        operation=ControlOperation.START, status=RequestStatus.PENDING
    )
    stopped = Apply.objects.filter(
        state=ApplyState.STOPPED, control_requests__in=pending_starts, completed_at=None
    )
    assert stopped.exists()
    # SchemaBot's deferred-deploy clause wants the start request newer than the lease.
    deferred = Apply.objects.filter(
        state=ApplyState.WAITING_FOR_DEPLOY,
        control_requests__in=pending_starts,
        control_requests__updated_at__gt=F("lease_acquired_at"),
    )
    assert deferred.exists()
    assert (
        Apply.objects.filter(state=ApplyState.STOPPED)
        .exclude(control_requests__in=pending_starts)
        .exists()
    )


def test_one_non_terminal_apply_per_target() -> None:
    seed_demo(applies=400)
    targets = (
        Apply.objects.exclude(state__in=TERMINAL_APPLY_STATES)
        .values("database_name", "database_type", "environment", "deployment")
        .annotate(n=Count("id"))
    )
    assert targets
    assert max(target["n"] for target in targets) == 1


def test_terminal_applies_completed_and_others_not() -> None:
    seed_demo()
    done = Apply.objects.filter(state__in=TERMINAL_APPLY_STATES).exclude(state=ApplyState.STOPPED)
    assert done.exists()
    assert not done.filter(completed_at=None).exists()
    open_ = Apply.objects.filter(Q(state__in=ACTIVE_APPLY_STATES) | Q(state=ApplyState.STOPPED))
    assert not open_.exclude(completed_at=None).exists()
    for apply in Apply.objects.all():
        assert apply.created_at <= apply.updated_at
        assert apply.updated_at.microsecond == 0


def test_every_apply_has_its_plan_lock_operation_and_tasks() -> None:
    seed_demo()
    for apply in Apply.objects.select_related("plan", "lock"):
        assert apply.deployment
        assert apply.plan.database_name == apply.lock.database_name == apply.database_name
        assert apply.plan.schema_files and apply.plan.plan_data
        operation = apply.operations.get()
        assert operation.deployment == apply.deployment
        assert operation.state == apply.state
        tasks = list(apply.tasks.all())
        assert 1 <= len(tasks) <= 3
        assert {task.apply_operation_id for task in tasks} == {operation.id}
        for task in tasks:
            assert task.table_name and task.ddl and task.ddl_action
            assert 0 <= (task.rows_copied or 0) <= (task.rows_total or 0)
            assert 0 <= (task.progress_percent or 0) <= 100


def test_logs_record_each_state_transition() -> None:
    seed_demo()
    for apply in Apply.objects.exclude(state=ApplyState.PENDING):
        transitions = apply.logs.filter(event_type=LogEvent.STATE_TRANSITION).order_by("id")
        assert transitions, apply.state
        assert transitions.first().old_state == ApplyState.PENDING
        assert transitions.last().new_state == apply.state
        assert {log.source for log in transitions} == {"schemabot"}


def metadata_phase(meta: dict[str, Any]) -> str:
    if "deployed_at" in meta:
        return "deployed"
    return "deploy_request" if meta["deploy_request_id"] else "branch"


def test_planetscale_resume_metadata_matches_the_phase() -> None:
    seed_demo(applies=400)
    seen = set()
    operations = ApplyOperation.objects.select_related("apply", "apply__plan")
    for operation in operations.filter(apply__engine=Engine.PLANETSCALE):
        apply, meta = operation.apply, operation.engine_resume_metadata
        if apply.state == ApplyState.PENDING:
            assert meta is None and operation.engine_resume_context is None
            continue
        assert operation.engine_resume_context == apply.apply_identifier
        expected = demo.branch_name(apply.database_name, apply.plan.plan_identifier)
        assert meta["branch_name"] == expected
        phase = metadata_phase(meta)
        if apply.state in PHASE_OF_STATE:
            assert phase == PHASE_OF_STATE[apply.state], apply.state
            seen.add(apply.state)
        if phase == "branch":  # Go writes deploy_request_id even while it is 0
            assert meta == {"branch_name": expected, "deploy_request_id": 0}
        else:
            assert isinstance(meta["deploy_request_id"], int) and meta["deploy_request_id"] > 0
            assert meta["deploy_request_url"].endswith(f"/{meta['deploy_request_id']}")
        if phase == "deployed":
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", meta["deployed_at"])
        if apply.state == ApplyState.WAITING_FOR_DEPLOY:
            assert meta["deferred_deploy"] is True
        if apply.state == ApplyState.CANCELLED:  # a stop cancels a deploy request
            assert phase != "branch"
    assert seen >= {*SETUP_PHASE_STATES, ApplyState.WAITING_FOR_DEPLOY, ApplyState.RUNNING}


def test_spirit_operations_persist_no_engine_state() -> None:
    seed_demo()
    spirit = ApplyOperation.objects.filter(apply__engine=Engine.SPIRIT)
    assert spirit.exists()
    assert not spirit.exclude(engine_resume_metadata=None).exists()


def test_branch_names_are_deterministic() -> None:
    name = demo.branch_name("merchant_settlements_archive", "plan-0123456789abcdef")
    assert name == "schemabot-merchant-settlements-89abcdef"
    assert demo.branch_name("orders", "plan-00000000deadbeef") == "schemabot-orders-deadbeef"


def test_identifiers_are_unique() -> None:
    seed_demo(applies=400)
    identifiers = [
        list(Apply.objects.values_list("apply_identifier", flat=True)),
        list(Plan.objects.values_list("plan_identifier", flat=True)),
        list(Task.objects.values_list("task_identifier", flat=True)),
    ]
    for values in identifiers:
        assert len(values) == len(set(values))
    branches = [
        op.engine_resume_metadata["branch_name"]
        for op in ApplyOperation.objects.exclude(engine_resume_metadata=None)
    ]
    assert len(branches) == len(set(branches))


def test_the_same_seed_gives_the_same_data() -> None:
    seed_demo(seed=7)
    first = shape()
    seed_demo(seed=7, reset=True)
    assert shape() == first
    seed_demo(seed=8, reset=True)
    assert shape() != first


def test_a_second_run_refuses_and_changes_nothing() -> None:
    seed_demo()
    before = row_counts()
    identifiers = set(Apply.objects.values_list("apply_identifier", flat=True))
    with pytest.raises(CommandError, match="--reset"):
        seed_demo()
    assert row_counts() == before
    assert set(Apply.objects.values_list("apply_identifier", flat=True)) == identifiers


def test_if_empty_seeds_once_then_leaves_the_rows_alone() -> None:
    assert "Seeded" in seed_demo(if_empty=True)
    before = row_counts()
    identifiers = set(Apply.objects.values_list("apply_identifier", flat=True))
    assert "left as they are" in seed_demo(if_empty=True)
    assert row_counts() == before
    assert set(Apply.objects.values_list("apply_identifier", flat=True)) == identifiers
    with pytest.raises(CommandError, match="contradict"):
        seed_demo(if_empty=True, reset=True)


def test_reset_replaces_every_row() -> None:
    seed_demo()
    Lock.objects.update(owner="someone-else")
    seed_demo(reset=True)
    assert row_counts()["applies"] == APPLIES
    assert not Lock.objects.filter(owner="someone-else").exists()


def test_too_few_applies_is_refused() -> None:
    with pytest.raises(CommandError, match=str(demo.MINIMUM_APPLIES)):
        seed_demo(applies=demo.MINIMUM_APPLIES - 1)
    assert not Apply.objects.exists()


@pytest.mark.parametrize("option", ["reset", "if_empty", None])
def test_attach_mode_refuses_entirely(settings: Any, option: str | None) -> None:
    settings.SCHEMABOT_MODE = "attach"
    with pytest.raises(CommandError, match="attach"):
        seed_demo(**({option: True} if option else {}))
    assert all(count == 0 for count in row_counts().values())


def test_fresh_applies_at_once_each_on_a_database_of_its_own() -> None:
    out = io.StringIO()
    call_command("seed_demo", fresh_apply="planetscale", count=3, stdout=out)

    ids = [int(line) for line in out.getvalue().split()]
    applies = Apply.objects.using("schemabot").filter(pk__in=ids)
    assert len(ids) == 3 and applies.count() == 3
    assert {a.state for a in applies} == {ApplyState.PENDING}
    assert len({a.database_name for a in applies}) == 3
    assert Task.objects.using("schemabot").filter(apply_id__in=ids).count() == 3 * 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fresh_apply": "planetscale", "count": 0}, "--count must be between 1 and"),
        ({"count": 5}, "--count goes with --fresh-apply"),
    ],
)
def test_a_bad_count_is_refused_and_creates_nothing(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("seed_demo", **options)
    assert not Apply.objects.using("schemabot").exists()
