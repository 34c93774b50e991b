"""The JSON API: session or bearer auth, roles, CSRF for sessions, reads and actions."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from applies.api_tokens import hash_token
from applies.engines.planetscale.types import DeployRequest
from applies.models import ApiToken, ApplyOperation
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply, reload
from tests.console_fixtures import DRIVER_TOKEN, give_lease, new_applies, new_apply, user_in

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState


def token_for(role: Role, name: str | None = None) -> str:
    user = user_in(role, name)
    out = StringIO()
    call_command("create_api_token", user.username, "--name", "chat-ops", stdout=out)
    return out.getvalue().strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_json(client: Client, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_the_token_is_printed_once_and_stored_hashed() -> None:
    token = token_for(Role.VIEWER)
    assert token.startswith("tern_") and len(token) > 40
    stored = ApiToken.objects.get()
    assert stored.key_hash == hash_token(token) and token not in stored.key_hash
    assert stored.name == "chat-ops"


def test_create_api_token_for_an_unknown_user_fails() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_token", "nobody")


def test_unauthenticated_and_bad_tokens_get_401_json() -> None:
    response = Client().get("/api/v1/applies")
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
    response = Client().get("/api/v1/applies", headers=bearer("tern_nope"))
    assert response.status_code == 401


def test_a_user_without_a_role_gets_403() -> None:
    token = token_for(None)  # type: ignore[arg-type]
    response = Client().get("/api/v1/dashboard", headers=bearer(token))
    assert response.status_code == 403 and "viewer" in response.json()["message"]


def test_reads_with_a_viewer_token() -> None:
    apply = give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)
    new_applies(3, state=A.COMPLETED)
    client, auth = Client(), bearer(token_for(Role.VIEWER))

    board = client.get("/api/v1/dashboard", headers=auth).json()
    assert [item["id"] for item in board["stuck"]] == [apply.pk]
    assert board["sweep"]["last_started_at"] is None and board["sweep"]["overdue"]

    page = client.get("/api/v1/applies?limit=2", headers=auth).json()
    assert len(page["results"]) == 2 and page["next"] and page["previous"] is None
    rest = client.get(page["next"], headers=auth).json()
    assert len(rest["results"]) == 2 and rest["next"] is None

    detail = client.get(f"/api/v1/applies/{apply.pk}", headers=auth).json()
    assert detail["lease"]["token_short"] == DRIVER_TOKEN[:8]
    assert detail["classification"]["classification"] == "claimable_now"
    assert detail["actions"]["reclaim"]["allowed"] is True
    assert len(detail["operations"]) == 1 and len(detail["tasks"]) == 1
    verdict = client.get(f"/api/v1/applies/{apply.pk}/classification", headers=auth).json()
    assert verdict["clause"] == "stale_active"
    assert client.get("/api/v1/applies/987654", headers=auth).status_code == 404


def test_no_full_lease_token_anywhere_in_the_api() -> None:
    apply = give_lease(make_apply(A.RUNNING), STALE)
    client, auth = Client(), bearer(token_for(Role.VIEWER))
    for url in ("/api/v1/dashboard", "/api/v1/applies", f"/api/v1/applies/{apply.pk}"):
        assert DRIVER_TOKEN not in client.get(url, headers=auth).content.decode(), url


def test_urls_the_api_returns_carry_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console shows a URL with userinfo as text, masked (``engine_link``): so does the API."""
    from applies.engines.planetscale.client import PlanetScaleClient

    url = "https://bot:s3cretpw@app.planetscale.com/acme/orders/deploy-requests/17"

    def get_deploy_request(self: object, number: int) -> DeployRequest:
        return DeployRequest.from_api(
            {"number": number, "state": "open", "deployment_state": "pending_cutover",
             "branch": "schemabot-orders-1", "html_url": url}
        )  # fmt: skip

    monkeypatch.setattr(PlanetScaleClient, "get_deploy_request", get_deploy_request)
    apply = make_apply(A.CREATING_DEPLOY_REQUEST)
    metadata = {"branch_name": "schemabot-orders-1", "deploy_request_id": 17}
    ApplyOperation.objects.using("schemabot").filter(apply_id=apply.pk).update(
        engine_resume_metadata={**metadata, "deploy_request_url": url}
    )
    client, auth = Client(), bearer(token_for(Role.VIEWER))
    detail = client.get(f"/api/v1/applies/{apply.pk}", headers=auth)
    engine = client.get(f"/api/v1/applies/{apply.pk}/engine", headers=auth)
    masked = "https://bot:•••@app.planetscale.com/acme/orders/deploy-requests/17"
    assert detail.json()["operations"][0]["engine_resume"]["deploy_request_url"] == masked
    assert engine.json()["operations"][0]["deploy_request_html_url"] == masked
    assert "s3cretpw" not in detail.content.decode() + engine.content.decode()


def test_filters_and_bad_parameters() -> None:
    spirit = new_apply(engine="spirit")
    new_apply(engine="planetscale")
    client, auth = Client(), bearer(token_for(Role.VIEWER))
    page = client.get("/api/v1/applies?engine=spirit&environment=staging", headers=auth).json()
    assert [row["id"] for row in page["results"]] == [spirit.pk]
    alone = client.get("/api/v1/applies?engine=spirit", headers=auth)
    assert alone.status_code == 400 and "engine: Engine only narrows" in alone.json()["message"]
    assert client.get("/api/v1/applies?engine=cobol", headers=auth).status_code == 400
    assert client.get("/api/v1/applies?limit=lots", headers=auth).status_code == 400


def test_reclaim_with_an_operator_token() -> None:
    apply = give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)
    client, auth = Client(), bearer(token_for(Role.OPERATOR, "bot"))
    body = {"seen_state": apply.state, "seen_token": DRIVER_TOKEN[:8], "reason": "chat-ops"}
    response = post_json(client, f"/api/v1/applies/{apply.pk}/reclaim", body, headers=auth)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["ok"] and result["drive_id"] and result["lease"] != DRIVER_TOKEN[:8]
    assert reload(apply).lease_owner == "ternadmin-console/bot"
    again = post_json(client, f"/api/v1/applies/{apply.pk}/reclaim", body, headers=auth)
    assert again.status_code == 409 and again.json()["error"] == "changed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"seen_state": "running", "seen_token": "", "reason": "x"}, 409, "not_claimable"),
        ({"seen_state": "running", "seen_token": ""}, 400, "invalid"),
        ([1, 2], 400, "invalid"),
    ],
)
def test_action_errors(body: Any, status: int, code: str) -> None:
    apply = make_apply(A.RUNNING, age=FRESH)
    auth = bearer(token_for(Role.OPERATOR))
    response = post_json(Client(), f"/api/v1/applies/{apply.pk}/reclaim", body, headers=auth)
    assert (response.status_code, response.json()["error"]) == (status, code)


def test_missing_apply_action_is_404_and_get_is_405() -> None:
    auth = bearer(token_for(Role.OPERATOR))
    body = {"seen_state": "x", "seen_token": "", "reason": "x"}
    assert post_json(Client(), "/api/v1/applies/987654/stop", body, headers=auth).status_code == 404
    response = Client().get("/api/v1/applies/1/stop", headers=auth)
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_a_viewer_token_cannot_act() -> None:
    apply = give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), STALE)
    auth = bearer(token_for(Role.VIEWER))
    body = {"seen_state": apply.state, "seen_token": DRIVER_TOKEN[:8], "reason": "x"}
    response = post_json(Client(), f"/api/v1/applies/{apply.pk}/reclaim", body, headers=auth)
    assert response.status_code == 403
    assert reload(apply).lease_token == DRIVER_TOKEN


def test_session_posts_need_the_csrf_header() -> None:
    apply = give_lease(make_apply(A.RUNNING), FRESH)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(Role.OPERATOR))
    body = {"seen_state": apply.state, "seen_token": DRIVER_TOKEN[:8], "reason": "x"}
    refused = post_json(client, f"/api/v1/applies/{apply.pk}/stop", body)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    client.get("/applies/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = post_json(client, f"/api/v1/applies/{apply.pk}/stop", body, {"X-CSRFToken": csrf})
    assert accepted.status_code == 200 and accepted.json()["action"] == "stop"


def test_bulk_reclaim_over_the_api() -> None:
    stale = give_lease(make_apply(A.VALIDATING_BRANCH), STALE)
    auth = bearer(token_for(Role.OPERATOR))
    body = {
        "items": [
            {"id": stale.pk, "seen_state": stale.state, "seen_token": DRIVER_TOKEN[:8]},
            f"987654:running:{DRIVER_TOKEN[:8]}",
        ],
        "reason": "incident",
    }
    results = post_json(Client(), "/api/v1/applies/bulk-reclaim", body, headers=auth).json()[
        "results"
    ]
    assert [(r["ok"], r["refusal"]) for r in results] == [(True, None), (False, "not_found")]
    bad = post_json(
        Client(), "/api/v1/applies/bulk-reclaim", {"items": [], "reason": "x"}, headers=auth
    )
    assert bad.status_code == 400


def test_security_headers_on_console_pages() -> None:
    client = Client()
    client.force_login(user_in(Role.VIEWER))
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in Client().get("/admin/login/")
