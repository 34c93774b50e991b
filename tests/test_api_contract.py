"""The API answers like an API: every error is JSON in one shape, inputs are declared schemas,
and its OpenAPI document and docs page are served to logged-in viewers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from applies import selectors
from applies.inputs import MAX_REASON
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, make_apply
from tests.console_fixtures import user_in
from tests.test_api import bearer, post_json, token_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["error"] == code, body
    return dict(body)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/v2/dashboard",
        "/api/v1/applies/abc",
        "/api/v1/applies/1/explode",
        "/api/",
    ],
)
def test_an_unmatched_path_is_a_json_404(path: str) -> None:
    response = Client().get(path, headers=bearer(token_for(Role.VIEWER)))
    body = assert_error_shape(response, 404, "not_found")
    assert path in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/applies/0",
        "/api/v1/applies/-1",
        "/api/v1/applies/" + "9" * 23,
        "/api/v1/applies/0/classification",
        "/api/v1/applies/0/engine",
    ],
)
def test_an_id_that_cannot_be_an_apply_is_a_json_400_naming_it(path: str) -> None:
    response = Client().get(path, headers=bearer(token_for(Role.VIEWER)))
    body = assert_error_shape(response, 400, "invalid")
    assert "pk" in body["message"] and "endpoint" not in body["message"]


def test_an_id_of_no_apply_is_a_json_404_saying_so() -> None:
    auth = bearer(token_for(Role.OPERATOR))
    for path in ("/api/v1/applies/987654", "/api/v1/applies/987654/engine"):
        body = assert_error_shape(Client().get(path, headers=auth), 404, "not_found")
        assert body["message"] == "There is no apply with id 987654."
    action = {"seen_state": "running", "reason": "x"}
    response = post_json(Client(), "/api/v1/applies/0/stop", action, headers=auth)
    assert_error_shape(response, 400, "invalid")


def test_every_error_status_is_json() -> None:
    apply = make_apply(A.RUNNING, age=FRESH)
    viewer, operator = bearer(token_for(Role.VIEWER, "v")), bearer(token_for(Role.OPERATOR, "o"))
    client = Client()
    assert_error_shape(client.get("/api/v1/dashboard"), 401, "unauthenticated")
    assert_error_shape(
        client.get("/api/v1/dashboard", headers=bearer("tern_nope")), 401, "unauthenticated"
    )
    body = {"seen_state": "running", "seen_token": "", "reason": "x"}
    assert_error_shape(
        post_json(client, f"/api/v1/applies/{apply.pk}/stop", body, headers=viewer), 403
    )
    response = client.put(f"/api/v1/applies/{apply.pk}/reclaim", headers=operator)
    assert_error_shape(response, 405, "method")
    assert response["Allow"] == "POST"
    assert_error_shape(
        post_json(client, f"/api/v1/applies/{apply.pk}/reclaim", body, headers=operator),
        409,
        "not_claimable",
    )
    bad_json = client.post(
        "/api/v1/applies/bulk-reclaim", "{nope", content_type="application/json", headers=operator
    )
    assert_error_shape(bad_json, 400)


def test_a_bug_is_a_json_500_without_details(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("password=hunter2 in a stack trace")

    monkeypatch.setattr(selectors, "dashboard", broken)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/dashboard", headers=bearer(token_for(Role.VIEWER)))
    assert_error_shape(response, 500, "server_error")
    assert "hunter2" not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seen_state": "running", "reason": "x" * (MAX_REASON + 1)}, "reason"),
        ({"seen_state": "running", "reason": "   "}, "reason"),
        ({"seen_state": ["running"], "reason": "x"}, "seen_state"),
        ({"seen_state": "s" * 101, "reason": "x"}, "seen_state"),
    ],
)
def test_action_bodies_are_validated_by_their_schema(body: dict[str, Any], field: str) -> None:
    apply = make_apply(A.RUNNING, age=FRESH)
    auth = bearer(token_for(Role.OPERATOR))
    response = post_json(Client(), f"/api/v1/applies/{apply.pk}/stop", body, headers=auth)
    error = assert_error_shape(response, 400, "invalid")
    assert field in error["message"]
    assert all(field in detail["loc"] for detail in error["details"])
    assert "x" * 100 not in response.content.decode()  # the bad value is not echoed


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=-5", "limit"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("sort=zzz", "sort"),
        ("sort=state", "sort"),
    ],
)
def test_list_parameters_are_validated_by_their_schema(query: str, field: str) -> None:
    response = Client().get(f"/api/v1/applies?{query}", headers=bearer(token_for(Role.VIEWER)))
    error = assert_error_shape(response, 400, "invalid")
    assert field in error["message"]


@pytest.mark.parametrize("query", ["limit=1", "limit=200", "sort=created_at", "sort=-created_at"])
def test_list_parameters_within_bounds_are_taken(query: str) -> None:
    response = Client().get(f"/api/v1/applies?{query}", headers=bearer(token_for(Role.VIEWER)))
    assert response.status_code == 200, response.content[:300]


def test_the_openapi_document_needs_a_login_and_declares_the_schemas() -> None:
    anonymous = Client().get("/api/v1/openapi.json")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client = Client()
    client.force_login(user_in(Role.VIEWER))
    document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/dashboard",
        "/api/v1/applies",
        "/api/v1/applies/{pk}",
        "/api/v1/applies/{pk}/classification",
        "/api/v1/applies/{pk}/engine",
        "/api/v1/applies/{pk}/reclaim",
        "/api/v1/applies/{pk}/stop",
        "/api/v1/applies/{pk}/start",
        "/api/v1/applies/bulk-reclaim",
    ):
        assert path in paths, path
    schemas = document["components"]["schemas"]
    reason = schemas["ActionIn"]["properties"]["reason"]
    assert reason["maxLength"] == MAX_REASON and reason["minLength"] == 1
    assert {"BearerToken", "Session"} <= set(document["components"]["securitySchemes"])
    assert set(schemas["ErrorOut"]["properties"]) == {"error", "message"}
    assert "409" in paths["/api/v1/applies/{pk}/reclaim"]["post"]["responses"]


def test_the_docs_page_needs_a_login_and_uses_only_local_files() -> None:
    assert Client().get("/api/v1/docs").status_code == 302
    no_role = Client()
    no_role.force_login(user_in(None))
    assert no_role.get("/api/v1/docs").status_code == 403
    client = Client()
    client.force_login(user_in(Role.VIEWER))
    page = client.get("/api/v1/docs")
    html = page.content.decode()
    assert page.status_code == 200 and "swagger-ui-bundle" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert "script-src 'self'" in page["Content-Security-Policy"]


def test_session_reads_work_and_get_is_never_csrf_checked() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(Role.VIEWER))
    assert client.get("/api/v1/dashboard").status_code == 200
    page = client.get("/api/v1/applies?limit=1")
    assert page.status_code == 200 and json.loads(page.content)["results"] == []
