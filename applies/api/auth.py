"""Who may call the API: a bearer token or the browser session, and the role it needs.

``Authorization: Bearer <token>`` (``manage.py create_api_token``) involves no cookie, so no
CSRF check; a bad, revoked or expired token is a 401 even when a session cookie comes along.
Without a bearer token the session counts, and a POST with it must carry the CSRF header as
the console's forms do. Reads need the viewer role, actions the operator role (403).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from ninja.security import APIKeyCookie, HttpBearer

from applies.api.errors import ApiError
from applies.api_tokens import user_for
from applies.roles import OPERATE_PERMISSION, VIEW_PERMISSION

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ROLE_OF = {VIEW_PERMISSION: "viewer", OPERATE_PERMISSION: "operator"}


def _require(user: Any, permission: str) -> Any:
    if not user.has_perm(permission):
        raise ApiError("forbidden", f"This needs the {ROLE_OF[permission]} role.", 403)
    return user


def _csrf_ok(request: HttpRequest) -> bool:
    check = CsrfViewMiddleware(lambda _: HttpResponse())
    check.process_request(request)
    return check.process_view(request, lambda _: HttpResponse(), (), {}) is None


class BearerToken(HttpBearer):
    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for(token.strip())
        if user is None:  # refused outright: never fall back to a session cookie
            raise ApiError(
                "unauthenticated", "The bearer token is not valid (or revoked, or expired).", 401
            )
        request.user = user
        return _require(user, self.permission)


class Session(APIKeyCookie):
    """The console's login session (the cookie is named here for the OpenAPI document)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, permission: str) -> None:
        super().__init__(csrf=False)  # checked below, with the API's own error shape
        self.permission = permission

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # the API answers 401
        if request.method not in SAFE_METHODS and not _csrf_ok(request):
            raise ApiError(
                "csrf", "CSRF check failed: send the X-CSRFToken header with a session.", 403
            )
        return _require(user, self.permission)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        raise NotImplementedError  # __call__ reads the session Django already loaded


def needs(permission: str) -> list[Any]:
    """The auth of an endpoint that needs ``permission``: a bearer token, else the session."""
    return [BearerToken(permission), Session(permission)]


VIEWER = needs(VIEW_PERMISSION)
