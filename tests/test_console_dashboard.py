"""The dashboard: what is stuck, wedged, idle or waiting for a person, counts, sweep health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applies import selectors
from applies.dbclock import PreciseNow
from applies.models import Brake, Drive, DriveLoop, SweepRun, Task
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply
from tests.console_fixtures import client_for, give_lease, new_applies, new_apply
from tests.factories import set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState


@pytest.fixture
def viewer() -> Client:
    return client_for(Role.VIEWER)


def test_sections_classify_the_unfinished_applies() -> None:
    stuck = give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)
    wedged = make_apply("teleporting")  # a state nobody knows
    paused = make_apply(A.PAUSED)
    healthy = make_apply(A.RUNNING, age=FRESH)
    new_applies(3, state=A.COMPLETED)

    board = selectors.dashboard()

    assert [item.apply.pk for item in board.stuck] == [stuck.pk]
    assert "the stale-active clause will claim it" in board.stuck[0].classification.reason
    assert [item.apply.pk for item in board.wedged] == [wedged.pk]
    assert [item.apply.pk for item in board.needs_human] == [paused.pk]
    assert board.healthy == 1 and healthy.pk not in [i.apply.pk for i in board.stuck]


def test_not_progressing_needs_idle_tasks_and_skips_states_that_idle_by_design(
    settings: object,
) -> None:
    idle = make_apply(A.RUNNING, age=FRESH)
    moving = make_apply(A.RUNNING, age=FRESH)
    waiting = make_apply(A.WAITING_FOR_CUTOVER, age=FRESH)
    for apply in (idle, waiting):
        for task in Task.objects.using("schemabot").filter(apply_id=apply.pk):
            set_heartbeat_age(task, 3600)
    Task.objects.using("schemabot").filter(apply_id=idle.pk).update(progress_percent=42)
    for task in Task.objects.using("schemabot").filter(apply_id=idle.pk):
        set_heartbeat_age(task, 3600)

    board = selectors.dashboard()

    assert [item.live.apply.pk for item in board.not_progressing] == [idle.pk]
    (item,) = board.not_progressing
    assert item.idle_seconds >= 3600 and item.progress == 42
    assert moving.pk not in [i.live.apply.pk for i in board.not_progressing]


def test_counts_are_exact_for_active_states_and_capped_for_finished_ones() -> None:
    new_applies(2, state=A.RUNNING, engine="spirit")
    new_apply(state=A.RUNNING, engine="planetscale")
    new_applies(4, state=A.COMPLETED)

    counts = selectors.state_counts(cap=3)

    rows = {row.state.value: row for row in counts.rows}
    assert rows["running"].total == 3 and rows["running"].exact
    assert rows["running"].by_engine == {"spirit": 2, "planetscale": 1}
    assert counts.engines == ["spirit", "planetscale"]
    assert rows["running"].cells == (2, 1)
    assert (rows["completed"].total, rows["completed"].exact, rows["completed"].shown) == (
        3,
        False,
        "3+",
    )


def test_dashboard_page_shows_every_section(viewer: Client) -> None:
    give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)
    make_apply("teleporting")
    response = viewer.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Stuck: claimable now",
        "Creating deploy request",
        "Wedged",
        "Unknown (teleporting)",
        "Alive, not progressing",
        "Need a human",
        "No sweep has run yet",
        "No recoveries yet",
        "Applies by state",
    ):
        assert text in html, text
    assert "Reclaim" not in html  # a viewer gets no action buttons
    assert "aaaaaaaa-0000" not in html  # never a full lease token


def test_operator_gets_reclaim_buttons_and_bulk_selection() -> None:
    apply = give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)
    html = client_for(Role.OPERATOR).get("/").content.decode()
    assert f"/applies/{apply.pk}/reclaim?state=creating_deploy_request&amp;token=aaaaaaaa" in html
    assert f'value="{apply.pk}:creating_deploy_request:aaaaaaaa"' in html
    assert "Reclaim selected" in html


def test_sweep_health_brake_and_recent_recoveries(viewer: Client) -> None:
    now = timezone.now()
    SweepRun.objects.create(
        started_at=now - timedelta(seconds=30), owner="sweep-1", ok=True, claimed=2
    )
    Brake.objects.create(engaged=True, reason="42 applies went stale at once", changed_by="sweep")
    apply = make_apply(A.RUNNING)
    Drive.objects.create(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        owner="sweep-1",
        lease_token="t" * 36,
        trigger="sweep",
        claimed_state=A.RUNNING,
    )
    health = selectors.sweep_health()
    assert health.braked and not health.overdue and health.last is not None
    html = viewer.get("/").content.decode()
    assert "Brake engaged" in html and "42 applies went stale at once" in html
    assert apply.apply_identifier in html and "t" * 36 not in html


def test_recent_recoveries_show_each_drive_s_schedule_and_the_drive_loops(
    viewer: Client, settings: Any
) -> None:
    settings.TERNADMIN_DRIVE_MODE = "loops"
    settings.TERNADMIN_DRIVE_LOOPS = 2
    apply = make_apply(A.RUNNING)
    Drive.objects.create(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        owner="node-a/1/sweep",
        lease_token="t" * 36,
        trigger="sweep",
        claimed_state=A.RUNNING,
        outcome=Drive.Outcome.RUNNING,
        steps=17,
        next_due_at=PreciseNow(90),
        consecutive_errors=2,
        last_error="EngineUnavailable: 503 from https://user:hunter2@api.example/v1",
    )
    DriveLoop.objects.create(
        slot=0, generation=4, holder="node-a/77/loop-0#4", alive_until=PreciseNow(30), steps=9
    )
    DriveLoop.objects.create(slot=1, generation=2, holder="", alive_until=PreciseNow(-5))

    html = viewer.get("/").content.decode()

    row = html[html.index('id="recent-drives"') :]
    assert '<td class="num">17</td>' in row and "in 1m" in row
    assert "2 errors in a row: EngineUnavailable: 503" in row and "hunter2" not in row
    loops = html[html.index('id="drive-loops"') :]
    assert "(1 of 2 running)" in html and "node-a/77/loop-0#4" in loops
    assert "alive" in loops and "not running" in loops


def test_an_old_last_pass_is_overdue(settings: object) -> None:
    SweepRun.objects.create(started_at=timezone.now() - timedelta(hours=1), owner="s", ok=True)
    assert selectors.sweep_health().overdue


def test_partial_renders_only_the_refreshing_part(viewer: Client) -> None:
    html = viewer.get("/?partial=1").content.decode()
    assert "<html" not in html and 'id="stuck"' in html


def test_dashboard_query_count_does_not_grow_with_applies(
    viewer: Client, django_assert_max_num_queries: Any
) -> None:
    for state in (A.CREATING_DEPLOY_REQUEST, A.RUNNING, A.PAUSED, "teleporting"):
        make_apply(state)
    new_applies(5, state=A.COMPLETED)
    with CaptureQueriesContext(connections["schemabot"]) as first:
        assert viewer.get("/").status_code == 200
    distinct_states = 5
    # Finding the states present costs at most one index probe per distinct state.
    assert len(first) <= 6 + distinct_states + 1
    for state in (A.CREATING_DEPLOY_REQUEST, A.RUNNING, A.PAUSED, "teleporting"):
        make_apply(state)
    new_applies(40, state=A.COMPLETED)
    with (
        django_assert_max_num_queries(len(first), using="schemabot"),
        django_assert_max_num_queries(7, using="default"),
    ):
        assert viewer.get("/").status_code == 200


def test_an_operator_releases_the_brake_from_the_dashboard(viewer: Client) -> None:
    Brake.objects.create(pk=1, engaged=True, reason="50 of 60 went stale", changed_by="sweep")
    assert "Release the brake" not in viewer.get("/").content.decode()
    assert viewer.post("/sweep/brake/release").status_code == 403
    assert Brake.objects.get().engaged

    operator = client_for(Role.OPERATOR)
    assert "Release the brake" in operator.get("/").content.decode()
    response = operator.post("/sweep/brake/release")

    assert response.status_code == 302
    brake = Brake.objects.get()
    assert not brake.engaged and brake.changed_by == "user-operator"
