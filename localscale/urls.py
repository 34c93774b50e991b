"""LocalScale's URLconf, served at the root by ``manage.py localscale serve``.

``PLANETSCALE_API_URL=http://127.0.0.1:<port>`` points a PlanetScale client at it. The ``/v1/``
endpoints are PlanetScale API v1's, with its documented fields (``shapes``); ``/admin/`` and
``/health`` are the emulator's own.
"""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from localscale import admin_views as admin
from localscale import deploys, views
from localscale.models import CallKind as K

_DB = "v1/organizations/<str:org>/databases/<str:db>/"
_BRANCH = _DB + "branches/<str:branch>"
_KEYSPACE = _BRANCH + "/keyspaces/<str:keyspace>"
_DR = _DB + "deploy-requests/<int:number>"

urlpatterns: list[URLPattern] = [
    path("health", admin.admin(GET=admin.health)),
    path(
        "admin/faults",
        admin.admin(GET=admin.list_faults, POST=admin.create_fault, DELETE=admin.clear_faults),
    ),
    path("admin/reset", admin.admin(POST=admin.reset)),
    path("admin/clock", admin.admin(GET=admin.get_clock, POST=admin.set_clock)),
    path("admin/stats", admin.admin(GET=admin.stats)),
    path("admin/calls", admin.admin(GET=admin.calls)),
    path("admin/databases", admin.admin(POST=admin.seed_database)),
    path(
        _DB + "branches",
        views.endpoint(
            GET=(views.list_branches, K.READ), POST=(views.create_branch, K.BRANCH_CREATED)
        ),
    ),
    path(_BRANCH, views.endpoint(GET=(views.get_branch, K.READ))),
    path(
        _BRANCH + "/passwords",
        views.endpoint(
            GET=(views.list_passwords, K.READ), POST=(views.create_password, K.PASSWORD_CREATED)
        ),
    ),
    path(
        _BRANCH + "/passwords/<str:password_id>",
        views.endpoint(DELETE=(views.delete_password, K.PASSWORD_DELETED)),
    ),
    path(_BRANCH + "/schema", views.endpoint(GET=(views.get_schema, K.READ))),
    path(_BRANCH + "/keyspaces", views.endpoint(GET=(views.list_keyspaces, K.READ))),
    path(_KEYSPACE, views.endpoint(GET=(views.get_keyspace, K.READ))),
    path(
        _KEYSPACE + "/vschema",
        views.endpoint(
            GET=(views.get_vschema, K.READ), PATCH=(views.update_vschema, K.VSCHEMA_UPDATED)
        ),
    ),
    path(
        _DB + "deploy-requests",
        views.endpoint(
            GET=(views.list_deploy_requests, K.READ),
            POST=(views.create_deploy_request, K.DEPLOY_REQUEST_CREATED),
        ),
    ),
    path(_DR, views.endpoint(GET=(views.get_deploy_request, K.READ))),
    path(_DR + "/deploy", views.endpoint(POST=(views.deploy, K.DEPLOY))),
    path(
        _DR + "/apply-deploy",
        views.endpoint(POST=(views.action(deploys.apply_deploy), K.APPLY_DEPLOY)),
    ),
    path(_DR + "/revert", views.endpoint(POST=(views.action(deploys.revert), K.REVERT))),
    path(
        _DR + "/skip-revert",
        views.endpoint(POST=(views.action(deploys.skip_revert), K.SKIP_REVERT)),
    ),
    path(_DR + "/cancel", views.endpoint(POST=(views.action(deploys.cancel), K.CANCEL))),
    # Everything else PlanetScale has, LocalScale does not.
    re_path(r"^v1/", views.not_implemented),
]

handler404 = admin.json_not_found
handler500 = admin.json_server_error
