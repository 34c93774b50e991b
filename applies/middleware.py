"""Response rules for every page and API answer: security policy, caching, credentials.

The console loads only its own stylesheet and script, so its Content-Security-Policy can be
strict: no inline script or style, no third-party origin, no framing, forms post only to
ternadmin. Django admin keeps its own (inline) scripts and is left without the header.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.cache import patch_cache_control

from applies.api_tokens import PREFIX as API_TOKEN_PREFIX

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADER = "Content-Security-Policy"


def content_security_policy(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if not request.path.startswith("/admin/") and HEADER not in response:
            response[HEADER] = POLICY
        return response

    return middleware


def private_no_store(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Pages and API answers show live operational data: no shared or stored copies.

    Static files never get here (WhiteNoise answers them first, with its own caching).
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        patch_cache_control(response, private=True, no_store=True)
        return response

    return middleware


# Query parameters that carry a credential, refused wherever they appear; ``token`` is one
# too under /api/ and /metrics (the console's confirmation pages use it for the 8-character
# lease token the operator saw, which is shown on every page anyway).
CREDENTIAL_PARAMETERS = frozenset(
    {"access_token", "auth_token", "api_key", "apikey", "api_token", "bearer", "authorization"}
)
TOKEN_PATHS = ("/api/", "/metrics")


def _credential_in_query(request: HttpRequest) -> bool:
    names = {name.lower() for name in request.GET}
    if names & CREDENTIAL_PARAMETERS:
        return True
    if "token" in names and request.path.startswith(TOKEN_PATHS):
        return True
    # ternadmin's own API tokens under any name (a prefix alone is someone's search term).
    return any(
        value.startswith(API_TOKEN_PREFIX) and len(value) >= len(API_TOKEN_PREFIX) + 16
        for _, values in request.GET.lists()
        for value in values
    )


def refuse_credentials_in_query(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A token in a URL ends up in access logs, proxies and browser history: refuse it (400),
    so no script keeps working that way. Tokens go in ``Authorization: Bearer …``; the access
    log masks what was sent (``ternadmin.gunicorn_conf``)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if not _credential_in_query(request):
            return get_response(request)
        message = "Send tokens in the Authorization header (Bearer), never in the URL."
        if request.path.startswith("/api/"):
            return JsonResponse({"error": "token_in_url", "message": message}, status=400)
        return HttpResponseBadRequest(message + "\n", content_type="text/plain")

    return middleware
