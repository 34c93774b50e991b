from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from applies.roles import (
    FIX_PERMISSION,
    OPERATE_PERMISSION,
    ROLE_PERMISSIONS,
    VIEW_PERMISSION,
    Role,
)

pytestmark = pytest.mark.django_db


def test_migration_created_each_role_with_its_permissions() -> None:
    for role, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        assert set(group.permissions.values_list("codename", flat=True)) == set(codenames)


@pytest.mark.parametrize(
    ("role", "can_view", "can_operate", "can_fix", "staff"),
    [
        (Role.VIEWER, True, False, False, False),
        (Role.OPERATOR, True, True, False, False),
        (Role.ADMIN, True, True, True, True),
    ],
)
def test_create_user_gives_exactly_one_role(
    role: Role, can_view: bool, can_operate: bool, can_fix: bool, staff: bool
) -> None:
    call_command("create_user", "casey", "--role", role.value, "--password", "tern-admin-42!")
    user = User.objects.get(username="casey")
    assert user.check_password("tern-admin-42!")
    assert [g.name for g in user.groups.all()] == [role.value]
    assert user.has_perm(VIEW_PERMISSION) is can_view
    assert user.has_perm(OPERATE_PERMISSION) is can_operate
    assert user.has_perm(FIX_PERMISSION) is can_fix
    assert user.is_staff is staff


def test_create_user_reads_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERNADMIN_USER_PASSWORD", "from-the-env-77?")
    call_command("create_user", "dana", "--role", "viewer")
    assert User.objects.get(username="dana").check_password("from-the-env-77?")


def test_changing_role_replaces_the_old_one() -> None:
    call_command("create_user", "eve", "--role", "admin", "--password", "tern-admin-42!")
    call_command("create_user", "eve", "--role", "viewer", "--password", "tern-admin-42!")
    user = User.objects.get(username="eve")
    assert [g.name for g in user.groups.all()] == ["viewer"]
    assert not user.is_staff


def test_refusals_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERNADMIN_USER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="Give a password"):
        call_command("create_user", "frank", "--role", "viewer")
    with pytest.raises(CommandError, match="Password rejected"):
        call_command("create_user", "frank", "--role", "viewer", "--password", "password")
    with pytest.raises(CommandError):
        call_command("create_user", "frank", "--role", "superuser", "--password", "x" * 20)
    assert not User.objects.filter(username="frank").exists()
