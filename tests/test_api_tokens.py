"""API tokens have a lifecycle: listed, revoked (admin and command), optional expiry, last use."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from applies.api_tokens import hash_token
from applies.models import ApiToken
from applies.roles import Role
from tests.test_admin import staff_user
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

DASHBOARD = "/api/v1/dashboard"


def stored(token: str) -> ApiToken:
    return ApiToken.objects.get(key_hash=hash_token(token))


def command(*args: str) -> str:
    out = StringIO()
    call_command("api_tokens", *args, stdout=out)
    return out.getvalue()


def test_use_is_recorded() -> None:
    token = token_for(Role.VIEWER)
    assert stored(token).last_used_at is None
    assert Client().get(DASHBOARD, headers=bearer(token)).status_code == 200
    assert stored(token).last_used_at is not None


def test_a_revoked_token_gets_401() -> None:
    token = token_for(Role.VIEWER)
    assert Client().get(DASHBOARD, headers=bearer(token)).status_code == 200
    assert "Revoked 1 token(s)" in command("revoke", str(stored(token).pk))
    response = Client().get(DASHBOARD, headers=bearer(token))
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
    assert stored(token).revoked_at is not None


def test_an_expired_token_gets_401() -> None:
    user = staff_user(Role.VIEWER, "exp")
    out = StringIO()
    call_command("create_api_token", user.username, "--expires-days", "30", stdout=out)
    token = out.getvalue().strip()
    row = stored(token)
    assert row.expires_at is not None
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    assert Client().get(DASHBOARD, headers=bearer(token)).status_code == 200
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(DASHBOARD, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("days", ["0", "-1", "99999"])
def test_expiry_is_bounded(days: str) -> None:
    user = staff_user(Role.VIEWER, "bounded")
    with pytest.raises(CommandError, match="--expires-days"):
        call_command("create_api_token", user.username, "--expires-days", days)


def test_the_command_lists_tokens_never_their_secret() -> None:
    active, revoked = token_for(Role.VIEWER, "ann"), token_for(Role.OPERATOR, "bob")
    command("revoke", str(stored(revoked).pk))
    listing = command("list")
    assert "ann" in listing and "bob" not in listing and active not in listing
    everything = json.loads(command("list", "--all", "--json"))
    assert {(row["user"], row["status"]) for row in everything} == {
        ("ann", "active"),
        ("bob", "revoked"),
    }
    assert hash_token(active) not in command("list", "--all")
    assert "ann" not in command("list", "--user", "bob", "--all")


@pytest.mark.parametrize("ids", [["987654"], ["²"], ["abc"]])
def test_revoking_what_is_not_there_is_an_error(ids: list[str]) -> None:
    token_for(Role.VIEWER)
    with pytest.raises(CommandError):
        command("revoke", *ids)
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 0


def test_the_admin_role_lists_and_revokes_tokens_in_admin() -> None:
    token = token_for(Role.VIEWER, "carol")
    client = Client()
    client.force_login(staff_user(Role.ADMIN))
    listing = client.get("/admin/applies/apitoken/")
    html = listing.content.decode()
    assert listing.status_code == 200 and "carol" in html and "active" in html
    assert hash_token(token) not in html and token not in html
    detail = client.get(f"/admin/applies/apitoken/{stored(token).pk}/change/").content.decode()
    assert hash_token(token) not in detail
    response = client.post(
        "/admin/applies/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [str(stored(token).pk)]},
        follow=True,
    )
    assert "Revoked 1 token(s)" in response.content.decode()
    assert stored(token).revoked_by == "admin-user"
    assert Client().get(DASHBOARD, headers=bearer(token)).status_code == 401
    assert client.get("/admin/applies/apitoken/?status=revoked").status_code == 200
    assert client.get("/admin/applies/apitoken/?key_hash__startswith=a").status_code == 400
