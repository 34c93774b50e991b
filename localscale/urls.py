"""LocalScale's URLconf, served at the root by ``manage.py localscale serve``.

``PLANETSCALE_API_URL=http://127.0.0.1:<port>`` points the PlanetScale client at it.
"""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from localscale import services, views
from localscale.models import CallKind as K

_DB = "v1/organizations/<str:org>/databases/<str:db>/"
_DR = _DB + "deploy-requests/<int:number>"

urlpatterns: list[URLPattern] = [
    path("health", views.admin(GET=views.health)),
    path(
        "admin/faults",
        views.admin(GET=views.list_faults, POST=views.create_fault, DELETE=views.clear_faults),
    ),
    path("admin/reset", views.admin(POST=views.reset)),
    path("admin/clock", views.admin(GET=views.get_clock, POST=views.set_clock)),
    path("admin/stats", views.admin(GET=views.stats)),
    path("admin/calls", views.admin(GET=views.calls)),
    path(
        _DB + "branches",
        views.endpoint(
            GET=(views.list_branches, K.READ), POST=(views.create_branch, K.BRANCH_CREATED)
        ),
    ),
    path(_DB + "branches/<str:branch>", views.endpoint(GET=(views.get_branch, K.READ))),
    path(
        _DB + "branches/<str:branch>/passwords",
        views.endpoint(POST=(views.create_password, K.PASSWORD_CREATED)),
    ),
    path(
        _DB + "branches/<str:branch>/schema",
        views.endpoint(GET=(views.get_schema, K.READ), POST=(views.apply_schema, K.SCHEMA_APPLIED)),
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
        views.endpoint(POST=(views.action(services.apply_deploy), K.APPLY_DEPLOY)),
    ),
    path(_DR + "/revert", views.endpoint(POST=(views.action(services.revert), K.REVERT))),
    path(
        _DR + "/skip-revert",
        views.endpoint(POST=(views.action(services.skip_revert), K.SKIP_REVERT)),
    ),
    path(_DR + "/cancel", views.endpoint(POST=(views.action(services.cancel), K.CANCEL))),
    # Everything else PlanetScale has, LocalScale does not.
    re_path(r"^v1/", views.not_implemented),
]

handler404 = views.json_not_found
handler500 = views.json_server_error
