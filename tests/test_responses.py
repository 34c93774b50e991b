"""What every answer carries and refuses: no caching, no credentials in URLs, quiet 4xx logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import STALE, make_apply, reload
from tests.console_fixtures import DRIVER_TOKEN, PASSWORD, give_lease, user_in
from tests.test_admin import staff_user
from tests.test_admin_fixes import action_post
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])


@pytest.mark.parametrize(
    "url", ["/", "/applies/", "/api/v1/dashboard", "/api/v1/applies", "/metrics", "/admin/"]
)
def test_pages_and_api_answers_are_private_and_never_stored(url: str) -> None:
    client = Client()
    client.force_login(user_in(Role.ADMIN))
    cache_control = client.get(url, headers=bearer(token_for(Role.VIEWER)))["Cache-Control"]
    directives = {part.strip() for part in cache_control.split(",")}
    assert {"private", "no-store"} <= directives, (url, cache_control)


def test_the_login_page_is_not_stored_either() -> None:
    assert "no-store" in Client().get("/accounts/login/")["Cache-Control"]


@pytest.mark.parametrize(
    "query",
    [
        "token=tern_abcdefghijklmnopqrstuvwx",
        "access_token=x",
        "api_key=x",
        "Authorization=Bearer%20x",
        "q=tern_abcdefghijklmnopqrstuvwx",
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/dashboard", "/metrics", "/applies/"])
def test_credentials_in_a_query_string_are_refused(path: str, query: str) -> None:
    if path == "/applies/" and query.startswith("token=x"):
        pytest.skip("the console's own ?token= is the lease token the operator saw")
    client = Client()
    client.force_login(user_in(Role.VIEWER))
    response = client.get(f"{path}?{query}", headers=bearer(token_for(Role.VIEWER, "t")))
    assert response.status_code == 400, (path, query)
    if path.startswith("/api/"):
        assert response.json()["error"] == "token_in_url"


def test_the_consoles_seen_token_parameter_still_works() -> None:
    apply = give_lease(make_apply(ApplyState.RUNNING), STALE)
    client = Client()
    client.force_login(user_in(Role.OPERATOR))
    response = client.get(f"/applies/{apply.pk}/reclaim?state=running&token={DRIVER_TOKEN[:8]}")
    assert response.status_code == 200


def test_the_metrics_token_is_accepted_only_as_a_bearer_header(settings: Any) -> None:
    settings.TERNADMIN_METRICS_TOKEN = "s3cret"
    for header in ("s3cret", "bearer s3cret", "Token s3cret", "Bearers3cret", "Bearer s3cretX"):
        assert Client().get("/metrics", headers={"Authorization": header}).status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if h.filters)
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


def test_a_403_is_logged_in_one_line(log_output: io.StringIO) -> None:
    apply = make_apply(ApplyState.RUNNING)
    client = Client(raise_request_exception=False)
    client.force_login(user_in(Role.VIEWER))
    assert client.post(f"/applies/{apply.pk}/reclaim", {"reason_choice": "x"}).status_code == 403
    output = log_output.getvalue()
    lines = [line for line in output.splitlines() if "Forbidden" in line]
    assert len(lines) == 1 and "/reclaim" in lines[0], output
    assert "Traceback" not in output and "PermissionDenied" not in output


def test_a_refused_admin_lookup_is_logged_in_one_line(log_output: io.StringIO) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(staff_user(Role.ADMIN))
    assert client.get("/admin/applies/apply/?lease_token__startswith=a").status_code == 400
    output = log_output.getvalue()
    assert "Traceback" not in output and "lease_token__startswith" in output
    assert len([line for line in output.splitlines() if "django." in line]) <= 2, output


def test_secrets_are_masked_in_log_lines(log_output: io.StringIO) -> None:
    logging.getLogger("applies.test").warning("connect %s failed", "mysql://app:hunter2@db/x")
    assert "hunter2" not in log_output.getvalue() and "mysql://app:" in log_output.getvalue()


def test_operators_reclaim_from_the_console_not_from_admin() -> None:
    """README: admin's *reclaim now* needs the operator role, and operators (not staff)
    reclaim from the console; an operator made by create_user cannot reach admin."""
    call_command("create_user", "opal", "--role", "operator", "--password", PASSWORD)
    apply = give_lease(make_apply(ApplyState.RUNNING, engine="planetscale"), STALE)
    client = Client()
    logged_in = client.post("/accounts/login/", {"username": "opal", "password": PASSWORD})
    assert logged_in.status_code == 302
    refused = client.post("/admin/applies/apply/", action_post(apply, "reclaim_now"))
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
    assert reload(apply).lease_token == DRIVER_TOKEN
    reclaimed = client.post(
        f"/applies/{apply.pk}/reclaim",
        {"seen_state": "running", "seen_token": DRIVER_TOKEN[:8], "reason_choice": "incident"},
    )
    assert reclaimed.status_code == 302
    assert reload(apply).lease_owner == "ternadmin-console/opal"
