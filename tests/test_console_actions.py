"""Action pages: confirm first, POST with CSRF, operator only, refused when things changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from applies.inputs import MAX_BULK_ITEMS
from applies.models import Apply, ApplyControlRequest, ApplyLog, Drive
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply, reload
from tests.console_fixtures import DRIVER_TOKEN, client_for, give_lease, user_in

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
REASON = {"reason_choice": "driver_gone", "reason_text": "INC-42"}


def stuck() -> Apply:
    return give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)


def form(apply: Apply, **extra: str) -> dict[str, str]:
    return {"seen_state": apply.state, "seen_token": apply.lease_token[:8], **REASON, **extra}


def untouched(apply: Apply) -> tuple[Any, ...]:
    row = reload(apply)
    logs = ApplyLog.objects.using("schemabot").filter(apply_id=apply.pk).count()
    requests = ApplyControlRequest.objects.using("schemabot").filter(apply_id=apply.pk).count()
    return (row.state, row.lease_token, row.updated_at, logs, requests, Drive.objects.count())


def test_confirm_page_carries_what_the_operator_saw() -> None:
    apply = stuck()
    operator = client_for(Role.OPERATOR)
    response = operator.get(f"/applies/{apply.pk}/reclaim?state={apply.state}&token=aaaaaaaa")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Reclaim apply-" in html and 'name="seen_token" value="aaaaaaaa"' in html
    assert 'name="reason_choice"' in html and "csrfmiddlewaretoken" in html
    assert DRIVER_TOKEN not in html


def test_reclaim_then_the_timeline_shows_it() -> None:
    apply = stuck()
    operator = client_for(Role.OPERATOR)
    response = operator.post(f"/applies/{apply.pk}/reclaim", form(apply), follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/applies/{apply.pk}/"
    assert "Reclaimed apply-" in html and "recovery drive" in html
    assert "Reclaimed by operator from creating_deploy_request (by user-operator: " in html
    assert "The driver&#x27;s host or process is gone: INC-42" in html
    row = reload(apply)
    assert row.lease_owner == "ternadmin-console/user-operator"


def test_a_stale_token_is_refused_with_a_clear_message() -> None:
    apply = stuck()
    saw = form(apply)
    give_lease(apply, FRESH, token="bbbbbbbb-0000-4000-8000-000000000002")  # the driver is back
    before = untouched(apply)
    operator = client_for(Role.OPERATOR)
    html = operator.post(f"/applies/{apply.pk}/reclaim", saw, follow=True).content.decode()
    assert "Reclaim refused: the driver came back: the lease changed since you loaded" in html
    assert untouched(apply) == before


def test_confirm_page_warns_when_the_apply_already_changed() -> None:
    apply = stuck()
    operator = client_for(Role.OPERATOR)
    html = operator.get(f"/applies/{apply.pk}/reclaim?state=running&token=zzzzzzzz").content
    assert b"The apply changed since you loaded its page" in html


def test_other_needs_words() -> None:
    apply = stuck()
    before = untouched(apply)
    operator = client_for(Role.OPERATOR)
    response = operator.post(
        f"/applies/{apply.pk}/reclaim", form(apply, reason_choice="other", reason_text=" ")
    )
    assert response.status_code == 400 and b"Say why" in response.content
    assert untouched(apply) == before


def test_viewer_has_no_buttons_and_a_forged_post_is_403() -> None:
    apply = stuck()
    viewer = client_for(Role.VIEWER)
    html = viewer.get(f"/applies/{apply.pk}/").content.decode()
    assert "Reclaim" not in html and "Request stop" not in html
    before = untouched(apply)
    assert viewer.get(f"/applies/{apply.pk}/reclaim").status_code == 403
    response = viewer.post(f"/applies/{apply.pk}/reclaim", form(apply))
    assert response.status_code == 403 and b"does not have the role" in response.content
    assert viewer.post("/applies/bulk-reclaim", {"item": "1:x:y"}).status_code == 403
    assert untouched(apply) == before


def test_anonymous_is_sent_to_log_in() -> None:
    apply = stuck()
    response = Client().post(f"/applies/{apply.pk}/reclaim", form(apply))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_post_without_csrf_token_is_refused() -> None:
    apply = stuck()
    before = untouched(apply)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(Role.OPERATOR))
    assert client.post(f"/applies/{apply.pk}/reclaim", form(apply)).status_code == 403
    assert untouched(apply) == before


def test_request_stop_and_start_pages() -> None:
    running = give_lease(make_apply(A.RUNNING), FRESH)
    stopped = make_apply(A.STOPPED)
    operator = client_for(Role.OPERATOR)
    html = operator.post(f"/applies/{running.pk}/stop", form(running), follow=True).content
    assert b"Stop requested for" in html and b"stop_requested" in html
    html = operator.post(f"/applies/{stopped.pk}/start", form(stopped), follow=True).content
    assert b"Start requested for" in html
    refused = operator.post(f"/applies/{running.pk}/start", form(running), follow=True).content
    assert b"Request start refused: only stopped or waiting-for-deploy" in refused


def test_unknown_action_is_404() -> None:
    apply = stuck()
    assert client_for(Role.OPERATOR).post(f"/applies/{apply.pk}/explode", {}).status_code == 404


def test_bulk_reclaim_confirms_then_acts() -> None:
    first, second = stuck(), stuck()
    fresh = give_lease(make_apply(A.RUNNING), FRESH)
    items = [f"{a.pk}:{a.state}:{a.lease_token[:8]}" for a in (first, second, fresh)]
    operator = client_for(Role.OPERATOR)

    confirm = operator.post("/applies/bulk-reclaim", {"item": items})
    assert confirm.status_code == 200 and b"Reclaim 3 applies?" in confirm.content
    assert reload(first).lease_owner == "host-a/1/driver-0"  # nothing happened yet

    done = operator.post(
        "/applies/bulk-reclaim", {"item": items, "confirmed": "1", **REASON}, follow=True
    )
    html = done.content.decode()
    assert html.count("Reclaimed apply-") == 2
    assert f"Apply {fresh.pk}: reclaim refused: heartbeat is fresh" in html
    assert reload(second).lease_owner == "ternadmin-console/user-operator"
    assert reload(fresh).lease_owner == "host-a/1/driver-0"


@pytest.mark.parametrize("confirmed", ["", "1"])
def test_bulk_reclaim_takes_at_most_as_many_applies_as_the_api(confirmed: str) -> None:
    apply = stuck()
    missing = [f"{pk}:running:" for pk in range(900_000, 900_000 + MAX_BULK_ITEMS)]
    items = [f"{apply.pk}:{apply.state}:{apply.lease_token[:8]}", *missing]
    before = untouched(apply)
    response = client_for(Role.OPERATOR).post(
        "/applies/bulk-reclaim", {"item": items, "confirmed": confirmed, **REASON}
    )
    assert response.status_code == 400
    assert f"Select at most {MAX_BULK_ITEMS} applies at a time" in response.content.decode()
    assert untouched(apply) == before


def test_bulk_reclaim_with_nothing_selected() -> None:
    response = client_for(Role.OPERATOR).post("/applies/bulk-reclaim", {}, follow=True)
    assert b"Select at least one stuck apply" in response.content
