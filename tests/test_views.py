from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from applies.roles import Role
from tests.factories import ApplyFactory

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])


def user_in(role: Role | None) -> User:
    user = User.objects.create_user(f"user-{role or 'none'}", password="pw-for-tests-1")
    if role:
        user.groups.add(Group.objects.get(name=role.value))
    return user


def test_login_page_renders(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to ternadmin" in response.content


def test_every_page_requires_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_without_a_role_gets_a_clear_403(client: Client) -> None:
    client.force_login(user_in(None))
    response = client.get("/")
    assert response.status_code == 403
    assert b"does not have the role" in response.content


def test_viewer_sees_applies_by_state_including_unknown_ones(client: Client) -> None:
    ApplyFactory(state="creating_deploy_request")
    ApplyFactory(state="migrating")  # a string no SchemaBot we know writes
    client.force_login(user_in(Role.VIEWER))
    response = client.get("/")
    assert response.status_code == 200
    assert b"Creating deploy request" in response.content
    assert b"Unknown (migrating)" in response.content


def test_security_headers(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_logging_out_ends_the_session(client: Client) -> None:
    client.force_login(user_in(Role.VIEWER))
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_no_password_reset_flow_without_mail(client: Client) -> None:
    assert client.get("/accounts/password_reset/").status_code == 404
