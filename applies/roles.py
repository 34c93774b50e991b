"""The three roles, as Django groups (created by migration 0002).

- ``viewer`` reads the console.
- ``operator`` also runs recovery actions (reclaim, request stop/start).
- ``admin`` also fixes state by hand in Django admin (and is staff).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


# Permission codenames (app ``applies``) each role holds; a role includes those before it.
VIEW_PERMISSIONS = (
    "view_apply",
    "view_applyoperation",
    "view_task",
    "view_applylog",
    "view_applycontrolrequest",
    "view_lock",
    "view_plan",
)
OPERATE_PERMISSIONS = ("operate_apply",)
FIX_PERMISSIONS = (
    "fix_apply_state",
    "change_apply",
    "change_applyoperation",
    "change_task",
    "change_applycontrolrequest",
)

# The admin role also sees and revokes the API's bearer tokens (migration 0006), and sees
# failed logins and clears lockouts (django-axes' app ``axes``, migration 0007).
ADMIN_PERMISSIONS = ("view_apitoken", "change_apitoken")
LOCKOUT_PERMISSIONS = (
    "view_accessattempt",
    "delete_accessattempt",
    "view_accesslog",
    "view_accessfailurelog",
)

ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.VIEWER: VIEW_PERMISSIONS,
    Role.OPERATOR: VIEW_PERMISSIONS + OPERATE_PERMISSIONS,
    Role.ADMIN: (
        VIEW_PERMISSIONS
        + OPERATE_PERMISSIONS
        + FIX_PERMISSIONS
        + ADMIN_PERMISSIONS
        + LOCKOUT_PERMISSIONS
    ),
}

VIEW_PERMISSION = "applies.view_apply"
OPERATE_PERMISSION = "applies.operate_apply"
FIX_PERMISSION = "applies.fix_apply_state"
