"""The admin role sees failed logins and clears lockouts (django-axes) in Django admin.

The codenames are frozen here, as in 0002; ``applies.roles`` lists them for the role.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

LOCKOUTS = ("view_accessattempt", "delete_accessattempt", "view_accesslog", "view_accessfailurelog")


def _permissions(apps: Any) -> Any:
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label="axes", codename__in=LOCKOUTS)


def grant(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("axes")
    app_config.models_module = True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = None
    for group in apps.get_model("auth", "Group").objects.filter(name="admin"):
        group.permissions.add(*_permissions(apps))


def revoke(apps: Any, schema_editor: Any) -> None:
    for group in apps.get_model("auth", "Group").objects.filter(name="admin"):
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("applies", "0006_admin_manages_api_tokens"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
