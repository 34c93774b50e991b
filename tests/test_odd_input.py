"""Odd input a careless or hostile person sends: a clear 4xx, never a 500, nothing written.

Runs on SQLite and on MariaDB: an id beyond 64 bits overflows SQLite's integers, a reason
longer than a TEXT column is "data too long" under MariaDB's strict mode.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from applies.models import Apply, ApplyControlRequest, ApplyLog
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import STALE, make_apply, reload
from tests.console_fixtures import DRIVER_TOKEN, give_lease, user_in
from tests.test_admin import staff_user
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
HUGE = "9" * 23  # beyond any 64-bit integer
SUPERSCRIPT = "²"  # str.isdigit() says yes, int() says no


def written() -> tuple[int, int, int]:
    """What an accepted action would have added to SchemaBot's tables."""
    return (
        ApplyLog.objects.count(),
        ApplyControlRequest.objects.count(),
        Apply.objects.exclude(lease_token=DRIVER_TOKEN).exclude(lease_token="").count(),
    )


@pytest.fixture
def stuck() -> Apply:
    return give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)


@pytest.fixture
def operator() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user_in(Role.OPERATOR))
    return client


@pytest.fixture
def admin() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(staff_user(Role.ADMIN))
    return client


def assert_refused(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])


@pytest.mark.parametrize(
    "url",
    [
        f"/applies/?q={SUPERSCRIPT}",
        f"/applies/?q={HUGE}",
        f"/applies/?pull_request={HUGE}",
        f"/applies/?after=1.{HUGE}",
        f"/applies/?before={HUGE}.{HUGE}",
        f"/applies/{HUGE}/",
        f"/applies/{HUGE}/engine",
        f"/applies/{HUGE}/reclaim",
    ],
)
def test_console_pages(operator: Client, stuck: Apply, url: str) -> None:
    response = operator.get(url)
    assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize("item", [f"{SUPERSCRIPT}:running:x", f"{HUGE}:running:x", "-1:x:y"])
@pytest.mark.parametrize("confirmed", ["", "1"])
def test_console_bulk_reclaim_items(
    operator: Client, stuck: Apply, item: str, confirmed: str
) -> None:
    before = written()
    body = {"item": [item], "confirmed": confirmed, "reason_choice": "incident"}
    assert_refused(operator.post("/applies/bulk-reclaim", body))
    assert written() == before


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/applies?q={SUPERSCRIPT}",
        f"/api/v1/applies?q={HUGE}",
        f"/api/v1/applies?pull_request={HUGE}",
        f"/api/v1/applies?after=1.{HUGE}",
        f"/api/v1/applies?limit={HUGE}",
        f"/api/v1/applies/{HUGE}",
        f"/api/v1/applies/{HUGE}/classification",
        f"/api/v1/applies/{HUGE}/engine",
    ],
)
def test_api_reads(stuck: Apply, url: str) -> None:
    response = Client(raise_request_exception=False).get(
        url, headers=bearer(token_for(Role.VIEWER))
    )
    assert response.status_code < 500, (url, response.status_code)


def _post(url: str, body: Any) -> Any:
    client = Client(raise_request_exception=False)
    auth = bearer(token_for(Role.OPERATOR, "bot"))
    return client.post(url, json.dumps(body), content_type="application/json", headers=auth)


@pytest.mark.parametrize(
    "items",
    [
        [f"{SUPERSCRIPT}:running:x"],
        [f"{HUGE}:running:x"],
        [{"id": SUPERSCRIPT, "seen_state": "running", "seen_token": "x"}],
        [{"id": HUGE, "seen_state": "running", "seen_token": "x"}],
        [{"id": int(HUGE), "seen_state": "running", "seen_token": "x"}],
    ],
)
def test_api_bulk_items(stuck: Apply, items: list[Any]) -> None:
    before = written()
    response = _post("/api/v1/applies/bulk-reclaim", {"items": items, "reason": "x"})
    assert_refused(response)
    assert response.json()["error"] == "invalid"
    assert written() == before


@pytest.mark.parametrize(
    "reason",
    ["x" * 70_000, "bad \ud800 surrogate", "nul \x00 byte"],
    ids=["70k", "surrogate", "nul"],
)
@pytest.mark.parametrize("action", ["reclaim", "stop", "bulk"])
def test_api_reasons(stuck: Apply, reason: str, action: str) -> None:
    before = written()
    seen = {"seen_state": stuck.state, "seen_token": DRIVER_TOKEN[:8], "reason": reason}
    if action == "bulk":
        url = "/api/v1/applies/bulk-reclaim"
        body: dict[str, Any] = {"items": [{"id": stuck.pk, **seen}], "reason": reason}
    else:
        url, body = f"/api/v1/applies/{stuck.pk}/{action}", seen
    response = _post(url, body)
    assert_refused(response)
    assert response.json()["error"] == "invalid"
    assert written() == before and reload(stuck).lease_token == DRIVER_TOKEN


@pytest.mark.parametrize(
    "url",
    [
        f"/admin/applies/apply/{HUGE}/change/",
        f"/admin/applies/apply/{HUGE}/fix/",
        f"/admin/applies/applyoperation/{HUGE}/change/",
        f"/admin/applies/task/{SUPERSCRIPT}/change/",
        "/admin/applies/apply/?p=" + HUGE,
        "/admin/applies/applylog/?p=" + "9" * 19,
    ],
)
def test_admin_pages(admin: Client, stuck: Apply, url: str) -> None:
    response = admin.get(url)
    assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize("selected", [SUPERSCRIPT, HUGE])
def test_admin_action_selection(admin: Client, stuck: Apply, selected: str) -> None:
    before = written()
    body = {"action": "release_lease", "_selected_action": [selected], "index": "0"}
    response = admin.post("/admin/applies/apply/", body)
    assert response.status_code < 500
    assert written() == before
