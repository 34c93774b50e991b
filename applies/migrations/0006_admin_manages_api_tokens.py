"""The admin role sees and revokes API tokens in Django admin.

The codenames are frozen here, as in 0002; ``applies.roles`` lists them for the role.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

TOKENS = ("view_apitoken", "change_apitoken")


def grant(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("applies")
    app_config.models_module = True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="applies", codename__in=TOKENS)
    for group in Group.objects.filter(name="admin"):
        group.permissions.add(*permissions)


def revoke(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="applies", codename__in=TOKENS)
    for group in Group.objects.filter(name="admin"):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("applies", "0005_api_token_lifecycle")]

    operations = [migrations.RunPython(grant, revoke)]
