"""The admin's fix page and actions: each refusal leaves the row alone and says why; each fix
writes one apply_logs row and one Django LogEntry, and keeps the heartbeat unless asked."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.test import Client

from applies.admin.forms import seen_initial
from applies.dbclock import SecondsAgo
from applies.models import Apply, ApplyLog, Drive
from applies.roles import Role
from applies.states import ApplyState
from applies.vocabulary import LogSource
from tests.claim_fixtures import FRESH, STALE, make_apply, reload
from tests.factories import set_heartbeat_age
from tests.test_admin import CHANGELIST, staff_user

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
TOKEN = "7c1d2e3f-0000-4000-8000-000000000002"


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(staff_user(Role.ADMIN, "root-admin"))
    return client


def leased(state: str, *, age: int = STALE, **fields: Any) -> Apply:
    apply = make_apply(state, age=age, **fields)
    set_heartbeat_age(apply, age, lease_owner="host/1/driver-0", lease_token=TOKEN)
    return reload(apply)


def fix_url(apply: Apply) -> str:
    return f"{CHANGELIST}{apply.pk}/fix/"


def fix_form(apply: Apply, new_state: str, **extra: str) -> dict[str, str]:
    return {
        **seen_initial(apply),
        "new_state": new_state,
        "reason": "driver_died",
        "details": "INC-42",
        **extra,
    }


def row_of(apply: Apply) -> tuple[Any, ...]:
    row = reload(apply)
    return (row.state, row.lease_owner, row.lease_token, row.updated_at, row.completed_at)


def audit_count(apply: Apply) -> int:
    return ApplyLog.objects.filter(apply_id=apply.pk, source=LogSource.TERNADMIN).count()


def texts(response: Response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def shown(message: str, response: Response) -> bool:
    """The message is on the page (the admin capitalizes its first letter and escapes it)."""
    return escape(message[1:]) in response.content.decode()


def assert_unchanged(apply: Apply, before: tuple[Any, ...]) -> None:
    assert row_of(apply) == before
    assert audit_count(apply) == 0
    assert not LogEntry.objects.filter(object_id=str(apply.pk)).exists()


# --- the fix page --------------------------------------------------------------------------------


def test_the_fix_page_shows_what_the_person_sees(admin_client: Client) -> None:
    apply = leased(A.RUNNING, age=FRESH)
    body = admin_client.get(fix_url(apply)).content.decode()
    assert "A driver looks alive" in body
    assert f'value="{TOKEN[:8]}"' in body and TOKEN not in body  # only the short token
    assert "Failed (failed)" in body and "Reverted (reverted)" in body


def test_an_accepted_fix_writes_one_audit_row_and_one_log_entry(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    response = admin_client.post(fix_url(apply), fix_form(apply, A.FAILED), follow=True)

    assert response.redirect_chain[-1][0] == f"{CHANGELIST}{apply.pk}/change/"
    row = reload(apply)
    assert (row.state, row.lease_token, row.updated_at) == (A.FAILED, "", apply.updated_at)
    [log] = ApplyLog.objects.filter(apply_id=apply.pk, source=LogSource.TERNADMIN)
    assert (log.old_state, log.new_state) == (A.RUNNING, A.FAILED)
    assert (log.metadata or {})["actor"] == "root-admin"
    assert (log.metadata or {})["reason"] == "Its driver died and left it wedged: INC-42"
    [entry] = LogEntry.objects.filter(object_id=str(apply.pk))
    assert entry.action_flag == CHANGE and "running → failed" in entry.change_message
    assert shown(f"{apply}: running → failed", response)  # the success message
    body = response.content.decode()
    assert "ternadmin audit history" in body and "INC-42" in body


def test_the_admins_history_of_a_fix_masks_a_secret_in_its_reason(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    page = fix_form(apply, A.FAILED, details="the driver logged DB_PASSWORD=hunter2")
    admin_client.post(fix_url(apply), page)
    assert reload(apply).state == A.FAILED
    history = admin_client.get(f"{CHANGELIST}{apply.pk}/history/").content.decode()
    assert "DB_PASSWORD=•••" in history and "hunter2" not in history


def test_reset_heartbeat_from_the_page(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING, age=3600)
    admin_client.post(fix_url(apply), fix_form(apply, A.CANCELLED, reset_heartbeat="on"))
    assert reload(apply).updated_at > apply.updated_at
    assert Apply.objects.filter(pk=apply.pk, updated_at__gte=SecondsAgo(30)).exists()
    assert audit_count(apply) == 1


def test_refused_unknown_state(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING)
    before = row_of(apply)
    response = admin_client.post(fix_url(apply), fix_form(apply, "teleporting"))
    assert response.status_code == 200
    assert "“teleporting” is not a registered state." in response.content.decode()
    assert_unchanged(apply, before)


def test_refused_target_conflict(admin_client: Client) -> None:
    holder = make_apply(A.RUNNING, database_name="orders", environment="production")
    apply = make_apply(A.FAILED, database_name="orders", environment="production")
    before = row_of(apply)
    response = admin_client.post(fix_url(apply), fix_form(apply, A.RUNNING))
    assert response.status_code == 200
    [message] = texts(response)
    assert f"Another active apply ({holder.apply_identifier}, running)" in message
    assert shown(message, response)
    assert_unchanged(apply, before)


def test_refused_stale_form_then_the_page_shows_the_current_row(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    page = fix_form(apply, A.FAILED)
    set_heartbeat_age(apply, STALE + 60, state=A.CUTTING_OVER)  # moved on after the page loaded
    before = row_of(apply)

    response = admin_client.post(fix_url(apply), page)

    [message] = texts(response)
    assert "changed since you loaded the page" in message
    assert "state running → cutting_over" in message
    assert shown(message, response)
    assert_unchanged(apply, before)
    # The page now carries the current row: submitting again is a decision about it.
    form = response.context["form"]
    assert form["seen_state"].value() == A.CUTTING_OVER
    assert form["new_state"].value() == A.FAILED


def test_refused_live_driver_without_confirmation(admin_client: Client) -> None:
    apply = leased(A.RUNNING, age=FRESH)
    before = row_of(apply)
    response = admin_client.post(fix_url(apply), fix_form(apply, A.FAILED))
    [message] = texts(response)
    assert "looks alive" in message and "confirm" in message
    assert shown(message, response)
    assert_unchanged(apply, before)
    admin_client.post(fix_url(apply), fix_form(apply, A.FAILED, confirm_live="on"))
    assert reload(apply).state == A.FAILED and audit_count(apply) == 1


def test_refused_without_a_reason(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING)
    before = row_of(apply)
    response = admin_client.post(
        fix_url(apply), fix_form(apply, A.FAILED, reason="other", details="")
    )
    assert "Say what the reason is." in response.content.decode()
    assert_unchanged(apply, before)


def test_refused_details_that_are_not_plain_text(admin_client: Client) -> None:
    """The admin's details are checked as the console's are (``inputs.validate_text``)."""
    apply = make_apply(A.RUNNING)
    before = row_of(apply)
    response = admin_client.post(fix_url(apply), fix_form(apply, A.FAILED, details="INC\x1b42"))
    assert "contains the control character U+001B" in response.content.decode()
    assert_unchanged(apply, before)


# ISO times whose UTC form is out of datetime's range (year 1 ahead of UTC, 9999 behind it).
OUT_OF_RANGE = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")


@pytest.mark.parametrize("seen_time", [*OUT_OF_RANGE, "yesterday"])
def test_refused_a_seen_time_out_of_range(admin_client: Client, seen_time: str) -> None:
    apply = leased(A.RUNNING)
    before = row_of(apply)
    response = admin_client.post(
        fix_url(apply), fix_form(apply, A.FAILED, seen_updated_at=seen_time)
    )
    assert response.status_code == 200
    assert "The page was incomplete: reload it and try again." in response.content.decode()
    assert_unchanged(apply, before)


@pytest.mark.parametrize("seen_time", OUT_OF_RANGE)
def test_an_action_refuses_a_seen_time_out_of_range(admin_client: Client, seen_time: str) -> None:
    apply = leased(A.RUNNING)
    before = row_of(apply)
    body = action_post(apply, "release_lease", **{f"seen-{apply.pk}-updated_at": seen_time})
    response = admin_client.post(CHANGELIST, body, follow=True)
    assert response.status_code == 200
    assert "not on the confirmation page; nothing done" in response.content.decode()
    assert_unchanged(apply, before)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_refused_without_the_fix_permission(client: Client, role: Role) -> None:
    apply = leased(A.RUNNING)
    before = row_of(apply)
    client.force_login(staff_user(role))
    assert client.get(fix_url(apply)).status_code == 403
    assert client.post(fix_url(apply), fix_form(apply, A.FAILED)).status_code == 403
    response = client.post(CHANGELIST, action_post(apply, "mark_failed"))
    assert response.status_code == 403
    assert_unchanged(apply, before)


# --- actions -------------------------------------------------------------------------------------


def action_post(apply: Apply, action: str, **extra: str) -> dict[str, Any]:
    """The confirmation page's form, as the browser posts it."""
    seen = seen_initial(apply)
    return {
        "action": action,
        "_selected_action": [str(apply.pk)],
        "post": "yes",
        f"seen-{apply.pk}-state": seen["seen_state"],
        f"seen-{apply.pk}-token": seen["seen_token"],
        f"seen-{apply.pk}-updated_at": seen["seen_updated_at"],
        "reason": "abandoned",
        "details": "",
        **extra,
    }


def test_an_action_asks_for_a_reason_first(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    response = admin_client.post(
        CHANGELIST, {"action": "mark_failed", "_selected_action": [str(apply.pk)], "index": "0"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Mark failed: confirm" in body and f'name="seen-{apply.pk}-state"' in body
    assert reload(apply).state == A.RUNNING and audit_count(apply) == 0


def test_mark_failed_action(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    response = admin_client.post(CHANGELIST, action_post(apply, "mark_failed"), follow=True)
    row = reload(apply)
    assert (row.state, row.updated_at) == (A.FAILED, apply.updated_at)
    assert row.error_message == "Marked failed by root-admin: Abandoned or duplicate apply"
    assert audit_count(apply) == 1
    assert LogEntry.objects.filter(object_id=str(apply.pk)).count() == 1
    assert shown(f"{apply}: running → failed", response)


def test_reapply_action(admin_client: Client) -> None:
    apply = leased(A.FAILED)
    Apply.objects.filter(pk=apply.pk).update(
        completed_at=SecondsAgo(600), updated_at=SecondsAgo(600), attempt=3
    )
    apply = reload(apply)
    admin_client.post(CHANGELIST, action_post(apply, "reapply_failed"))
    row = reload(apply)
    assert (row.state, row.attempt, row.lease_token) == (A.FAILED_RETRYABLE, 0, "")
    assert row.updated_at > apply.updated_at  # SchemaBot's reapply sets the heartbeat to NOW()
    assert audit_count(apply) == 1


def test_release_lease_action_refuses_a_changed_row(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    page = action_post(apply, "release_lease")
    set_heartbeat_age(apply, STALE, lease_token="another-drivers-token")
    before = row_of(apply)
    response = admin_client.post(CHANGELIST, page, follow=True)
    assert "changed since you loaded the page" in response.content.decode()
    assert_unchanged(apply, before)


def test_release_lease_action(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    admin_client.post(CHANGELIST, action_post(apply, "release_lease"))
    row = reload(apply)
    assert (row.state, row.lease_owner, row.lease_token, row.updated_at) == (
        A.RUNNING,
        "",
        "",
        apply.updated_at,
    )
    assert audit_count(apply) == 1


def test_reclaim_now_uses_the_console_service(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING, engine="planetscale")
    response = admin_client.post(CHANGELIST, action_post(apply, "reclaim_now"), follow=True)
    row = reload(apply)
    assert row.lease_owner == "ternadmin-console/root-admin" and row.lease_token
    assert audit_count(apply) == 1
    assert LogEntry.objects.filter(object_id=str(apply.pk)).count() == 1
    assert Drive.objects.filter(apply_id=apply.pk).count() == 1
    assert "Reclaimed" in response.content.decode()


def test_reclaim_of_a_live_apply_is_refused(admin_client: Client) -> None:
    apply = leased(A.RUNNING, age=FRESH)
    before = row_of(apply)
    response = admin_client.post(CHANGELIST, action_post(apply, "reclaim_now"), follow=True)
    assert "Reclaim now refused" in response.content.decode()
    assert row_of(apply)[:3] == before[:3] and audit_count(apply) == 0


def test_an_operator_may_reclaim_but_not_fix(client: Client) -> None:
    apply = make_apply(A.RUNNING, engine="planetscale")
    client.force_login(staff_user(Role.OPERATOR))
    client.post(CHANGELIST, action_post(apply, "reclaim_now"))
    assert reload(apply).lease_owner == "ternadmin-console/operator-user"


def test_actions_refuse_select_across(admin_client: Client) -> None:
    apply = leased(A.RUNNING)
    before = row_of(apply)
    response = admin_client.post(
        CHANGELIST, action_post(apply, "mark_failed", select_across="1"), follow=True
    )
    assert "not run on a whole filtered table" in response.content.decode()
    assert_unchanged(apply, before)
