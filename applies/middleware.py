"""A Content-Security-Policy for the console's pages.

The console loads only its own stylesheet and script, so the policy can be strict: no inline
script or style, no third-party origin, no framing, forms post only to ternadmin. Django
admin keeps its own (inline) scripts and is left without the header.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
