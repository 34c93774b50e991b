"""The JSON API (``/api/v1/``): the console's reads and actions for scripts and chat-ops.

Built on django-ninja: inputs are declared schemas (``schemas``), answers declared shapes
(``shapes``, ``rows``), who may call what is ``auth``, errors have one shape (``errors``).
The OpenAPI document (``/api/v1/openapi.json``) and its docs page (``/api/v1/docs``) need a
login with the viewer role; the docs page is served from ternadmin's own static files.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from ninja import NinjaAPI, Swagger

from applies.api import errors
from applies.api.views import router
from applies.roles import VIEW_PERMISSION


def _docs_access(view: Any) -> Any:
    return login_required(permission_required(VIEW_PERMISSION, raise_exception=True)(view))


api = NinjaAPI(
    title="ternadmin API",
    version="1",
    description=(
        "Reads and recovery actions over SchemaBot's applies. Authenticate with "
        "`Authorization: Bearer <token>` (`manage.py create_api_token`) or the console's "
        "session (POSTs then need the `X-CSRFToken` header). Every error is "
        '`{"error": <code>, "message": <text>}`.'
    ),
    urls_namespace="api",
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=_docs_access,
)
errors.install(api)
api.add_router("", router)

__all__ = ["api"]
