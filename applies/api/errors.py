"""The API's one error shape: ``{"error": <code>, "message": <for people>}``, every status.

Errors raised inside the API (``ApiError``, refused actions, schema validation, a bug) are
answered by the exception handlers installed here; errors Django answers before the API is
reached (no such path, a method the path does not take, a body too large) are rewritten into
the same shape by ``json_errors``, so nothing under ``/api/`` ever answers with an HTML page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from applies.services.errors import Refusal, Refused

API_PREFIX = "/api/"
logger = logging.getLogger("applies.api")

# Codes by status, for errors that carry no code of their own.
STATUS_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method",
    409: "conflict",
    413: "too_large",
    429: "throttled",
    500: "server_error",
}
REFUSAL_STATUS = {Refusal.NOT_FOUND: 404, Refusal.INVALID: 400}


class ApiError(Exception):
    """Answer with ``status`` and ``{"error": code, "message": message}``."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def error_response(code: str, message: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


def _validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Only where and what: pydantic's "input" would echo the bad value (a 70 kB reason, or
    # a secret pasted into the wrong field) back to the caller and into any log of it.
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in errors
    ]


def _validation_message(details: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(d['loc'][1:] or d['loc'])}: {d['msg']}" for d in details[:5]]
    return "Invalid request: " + "; ".join(parts) if parts else "Invalid request."


def install(api: NinjaAPI) -> None:
    """Answer every exception raised inside ``api`` in the one error shape."""

    @api.exception_handler(ApiError)
    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return error_response(exc.code, exc.message, exc.status)

    @api.exception_handler(Refused)
    def on_refused(request: HttpRequest, exc: Refused) -> HttpResponse:
        return error_response(exc.code.value, exc.message, REFUSAL_STATUS.get(exc.code, 409))

    @api.exception_handler(ValidationError)
    def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        details = _validation_details(exc.errors)
        return error_response("invalid", _validation_message(details), 400, details=details)

    @api.exception_handler(AuthenticationError)
    def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            "unauthenticated", "Log in, or send Authorization: Bearer <token>.", 401
        )

    @api.exception_handler(Http404)
    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response("not_found", str(exc) or "Not found.", 404)

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code
        return error_response(STATUS_CODES.get(status, "error"), str(exc), status)

    @api.exception_handler(Exception)
    def on_bug(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        return error_response(
            "server_error", "Something went wrong on the server; it has been logged.", 500
        )


def _message(status: int, response: HttpResponse, request: HttpRequest) -> str:
    if status == 404:
        return f"There is no API endpoint {request.path}."
    if status == 405:
        return (
            f"{request.method} is not allowed here; use {response.get('Allow', 'another method')}."
        )
    if status == 500:
        return "Something went wrong on the server; it has been logged."
    return getattr(response, "reason_phrase", "") or "The request was refused."


def json_errors(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: an error answered outside the API's handlers, under /api/, becomes JSON."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        status = response.status_code
        if (
            status < 400
            or not request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        replaced = error_response(
            STATUS_CODES.get(status, "error"), _message(status, response, request), status
        )
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replaced[header] = response[header]
        return replaced

    return middleware
