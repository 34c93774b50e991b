"""Create the viewer / operator / admin groups with their permissions.

The permission lists are frozen here (a migration must not change meaning when
``applies.roles`` later does); a later migration updates them if roles change.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = (
    "view_apply",
    "view_applyoperation",
    "view_task",
    "view_applylog",
    "view_applycontrolrequest",
    "view_lock",
    "view_plan",
)
OPERATE = ("operate_apply",)
FIX = (
    "fix_apply_state",
    "change_apply",
    "change_applyoperation",
    "change_task",
    "change_applycontrolrequest",
)
ROLES = {"viewer": VIEW, "operator": VIEW + OPERATE, "admin": VIEW + OPERATE + FIX}


def create_groups(apps: Any, schema_editor: Any) -> None:
    # Permissions are normally created after all migrations (post_migrate); make them now.
    # The historical app config is a stub that create_permissions would skip as model-less.
    app_config = apps.get_app_config("applies")
    app_config.models_module = True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = Permission.objects.filter(
            content_type__app_label="applies", codename__in=codenames
        )
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"permissions missing for role {name}: {sorted(missing)}")
        group.permissions.set(permissions)


def remove_groups(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("applies", "0001_schemabot_tables"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
