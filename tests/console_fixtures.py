"""Users, clients and rows for the console's tests (pages, API, browser)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from applies.models import Apply
from applies.roles import ROLE_PERMISSIONS, Role
from tests.claim_fixtures import reload
from tests.factories import ApplyFactory, set_heartbeat_age

PASSWORD = "pw-for-console-tests-1"
DRIVER_TOKEN = "aaaaaaaa-0000-4000-8000-000000000001"


def role_group(role: Role) -> Group:
    """The role's group; remade when a transactional test's flush removed the migration's."""
    group, created = Group.objects.get_or_create(name=role.value)
    if created:
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=("applies", "axes"),
                codename__in=ROLE_PERMISSIONS[role],
            )
        )
    return group


def user_in(role: Role | None, name: str | None = None) -> User:
    user = User.objects.create_user(name or f"user-{role or 'none'}", password=PASSWORD)
    if role:
        user.groups.add(role_group(role))
    return user


def client_for(role: Role | None) -> Client:
    client = Client()
    client.force_login(user_in(role))
    return client


def give_lease(apply: Apply, age: int, token: str = DRIVER_TOKEN) -> Apply:
    """Give the apply a SchemaBot driver's lease, its heartbeat ``age`` seconds old."""
    Apply.objects.using("schemabot").filter(pk=apply.pk).update(
        lease_owner="host-a/1/driver-0", lease_token=token
    )
    set_heartbeat_age(apply, age)  # the update above moved it on MariaDB
    return reload(apply)


def new_apply(**fields: Any) -> Apply:
    """``ApplyFactory(**fields)``, typed."""
    return cast(Apply, ApplyFactory(**fields))


def new_applies(n: int, **fields: Any) -> list[Apply]:
    return [new_apply(**fields) for _ in range(n)]
