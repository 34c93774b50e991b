"""Login throttling: repeated failures for one user, or from one address, lock logins out for
a while with a clear message; admins see and clear lockouts; bearer tokens are unaffected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from applies.logins import client_ip
from applies.roles import Role
from tests.console_fixtures import PASSWORD, user_in
from tests.test_admin import staff_user
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

LOGIN = "/accounts/login/"
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT


def attempt(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})


def fail(times: int, username: str = "vera", address: str = "10.0.0.1") -> None:
    for _ in range(times):
        assert attempt(username, "wrong-password", address).status_code in (200, 429)


def locked(response: Any) -> bool:
    return response.status_code == 429 and "Too many failed logins" in response.content.decode()


def test_repeated_failures_for_one_user_lock_it_out_from_anywhere() -> None:
    user_in(Role.VIEWER, "vera")
    fail(LIMIT - 1, address="10.0.0.1")
    assert attempt("vera", PASSWORD, "10.0.0.9").status_code == 302  # under the limit: fine
    fail(LIMIT, address="10.0.0.2")
    response = attempt("vera", PASSWORD, "10.0.0.3")  # the right password, another address
    assert locked(response)
    assert "Logins are locked for 15m" in response.content.decode()


def test_repeated_failures_from_one_address_lock_it_out_for_anyone() -> None:
    user_in(Role.VIEWER, "vera")
    for name in ("a", "b", "c"):
        fail(1, username=name, address="10.6.6.6")
    assert locked(attempt("vera", PASSWORD, "10.6.6.6"))
    assert attempt("vera", PASSWORD, "10.0.0.7").status_code == 302


def test_a_lockout_ends_after_the_cool_off() -> None:
    user_in(Role.VIEWER, "vera")
    fail(LIMIT)
    assert locked(attempt("vera", PASSWORD))
    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        assert attempt("vera", PASSWORD).status_code == 302


def test_an_admin_sees_and_clears_a_lockout() -> None:
    user_in(Role.VIEWER, "vera")
    fail(LIMIT)
    admin = Client()
    admin.force_login(staff_user(Role.ADMIN))
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "vera" in listing.content.decode()
    assert "wrong-password" not in listing.content.decode()
    attempts = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302 and not AccessAttempt.objects.exists()
    assert attempt("vera", PASSWORD).status_code == 302
    assert admin.get("/admin/axes/accessattempt/?username__startswith=v").status_code == 400


def test_bearer_tokens_are_not_throttled() -> None:
    token = token_for(Role.VIEWER, "bot")
    fail(LIMIT, username="bot", address="127.0.0.1")
    assert locked(attempt("bot", PASSWORD, "127.0.0.1"))
    for _ in range(LIMIT + 2):
        response = Client(REMOTE_ADDR="127.0.0.1").get("/api/v1/dashboard", headers=bearer(token))
        assert response.status_code == 200
    bad = Client(REMOTE_ADDR="127.0.0.1").get("/api/v1/dashboard", headers=bearer("tern_nope"))
    assert bad.status_code == 401


def test_behind_the_proxy_the_address_is_the_one_it_appended(settings: Any) -> None:
    request = Client().get("/").wsgi_request
    request.META.update(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TERNADMIN_BEHIND_PROXY = False
    assert client_ip(request) == "10.9.9.9"
    settings.TERNADMIN_BEHIND_PROXY = True
    assert client_ip(request) == "203.0.113.7"
