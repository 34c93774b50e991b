"""LocalScale's HTTP endpoints: authentication, faults, the call log and JSON around services.

Every call needs an ``Authorization: <id>:<token>`` header (401 otherwise; the value is never
stored or echoed). API calls (``/v1/…``) first consult the fault rules, then run in one
transaction holding their database's lock, then are logged with the ``X-Ternadmin-Apply``
header that says which apply made them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from localscale import services
from localscale.calls import add_fault, call_stats, record_call, take_fault
from localscale.machine import Reading, read_clock
from localscale.models import Call, CallKind, Clock, Fault
from localscale.services import ApiError
from localscale.shapes import (
    branch_json,
    deploy_request_json,
    schema_json,
    timestamp,
)

APPLY_HEADER = "X-Ternadmin-Apply"
View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class Context:
    """What an API handler gets besides its URL arguments."""

    org: str
    db: str
    reading: Reading
    payload: dict[str, Any]
    query: dict[str, str]
    apply_identifier: str
    base_url: str


Handler = Callable[..., tuple[int, dict[str, Any]]]


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def _unauthorized(request: HttpRequest) -> JsonResponse | None:
    token_id, _, token = request.headers.get("Authorization", "").partition(":")
    if token_id.strip() and token.strip():
        return None
    return error(401, "unauthorized", "Authorization must be '<service token id>:<token>'.")


def _payload(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise ApiError(400, "bad_request", "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    return payload


def _base_url(request: HttpRequest) -> str:
    # Not request.get_host(): the emulator answers on any address it is bound to.
    host = request.META.get("HTTP_HOST") or (
        f"{request.META.get('SERVER_NAME')}:{request.META.get('SERVER_PORT')}"
    )
    return f"{request.scheme}://{host}"


# --- API calls --------------------------------------------------------------------------------


def endpoint(**handlers: tuple[Handler, CallKind]) -> View:
    """A view serving ``handlers`` by HTTP method, with auth, faults and the call log."""

    @csrf_exempt
    def view(request: HttpRequest, org: str, db: str, **kwargs: Any) -> HttpResponse:
        denied = _unauthorized(request)
        if denied is not None:
            return denied
        method = request.method or "GET"
        if method not in handlers:
            return error(405, "method_not_allowed", f"{method} is not supported here.")
        handler, kind = handlers[method]
        fault = take_fault(method, request.path)
        response, effective = _answer(request, fault, handler, org, db, kwargs)
        apply_identifier = request.headers.get(APPLY_HEADER, "")
        record_call(method, request.path, kind, apply_identifier, response.status_code, effective)
        return response

    return view


def _answer(
    request: HttpRequest,
    fault: Fault | None,
    handler: Handler,
    org: str,
    db: str,
    kwargs: dict[str, Any],
) -> tuple[HttpResponse, bool]:
    """The response, and whether the call took effect."""
    if fault is not None and fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault is not None and fault.status and not fault.after:
        return _fault_response(fault), False
    status, body = _run(request, handler, org, db, kwargs)
    if fault is not None and fault.status:  # ran, but the answer is "lost"
        return _fault_response(fault), status < 400
    return JsonResponse(body, status=status), status < 400


def _run(
    request: HttpRequest, handler: Handler, org: str, db: str, kwargs: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    try:
        payload = _payload(request)
        with transaction.atomic():
            reading = read_clock()
            services.database_lock(org, db, reading)
            context = Context(
                org=org,
                db=db,
                reading=reading,
                payload=payload,
                query={key: request.GET.get(key, "") for key in request.GET},
                apply_identifier=request.headers.get(APPLY_HEADER, ""),
                base_url=_base_url(request),
            )
            return handler(context, **kwargs)
    except ApiError as exc:
        return exc.status, {"code": exc.code, "message": exc.message}


def _fault_response(fault: Fault) -> JsonResponse:
    status = fault.status or 500
    code = {409: "conflict", 429: "rate_limited"}.get(status, "injected_fault")
    response = error(status, code, fault.message or f"Injected fault ({status}).")
    if fault.retry_after is not None:
        response["Retry-After"] = str(fault.retry_after)
    return response


@csrf_exempt
def not_implemented(request: HttpRequest) -> HttpResponse:
    return _unauthorized(request) or error(
        501, "not_implemented", f"LocalScale does not emulate {request.method} {request.path}."
    )


# --- Handlers ---------------------------------------------------------------------------------


def list_branches(ctx: Context) -> tuple[int, dict[str, Any]]:
    branches = services.list_branches(ctx.org, ctx.db, ctx.reading)
    return 200, {"data": [branch_json(branch, ctx.base_url) for branch in branches]}


def create_branch(ctx: Context) -> tuple[int, dict[str, Any]]:
    branch = services.create_branch(ctx.org, ctx.db, ctx.payload, ctx.reading)
    return 201, branch_json(branch, ctx.base_url)


def get_branch(ctx: Context, branch: str) -> tuple[int, dict[str, Any]]:
    return 200, branch_json(services.get_branch(ctx.org, ctx.db, branch, ctx.reading), ctx.base_url)


def create_password(ctx: Context, branch: str) -> tuple[int, dict[str, Any]]:
    return 201, services.create_password(ctx.org, ctx.db, branch, ctx.reading)


def get_schema(ctx: Context, branch: str) -> tuple[int, dict[str, Any]]:
    return 200, schema_json(services.get_branch(ctx.org, ctx.db, branch, ctx.reading))


def apply_schema(ctx: Context, branch: str) -> tuple[int, dict[str, Any]]:
    updated = services.apply_schema(ctx.org, ctx.db, branch, ctx.payload, ctx.reading)
    return 200, schema_json(updated)


def list_deploy_requests(ctx: Context) -> tuple[int, dict[str, Any]]:
    found = services.list_deploy_requests(ctx.org, ctx.db, ctx.query, ctx.reading)
    return 200, {"data": [deploy_request_json(dr, ctx.base_url) for dr in found]}


def create_deploy_request(ctx: Context) -> tuple[int, dict[str, Any]]:
    dr = services.create_deploy_request(
        ctx.org, ctx.db, ctx.payload, ctx.apply_identifier, ctx.reading
    )
    return 201, deploy_request_json(dr, ctx.base_url)


def get_deploy_request(ctx: Context, number: int) -> tuple[int, dict[str, Any]]:
    dr = services.get_deploy_request(ctx.org, ctx.db, number, ctx.reading)
    return 200, deploy_request_json(dr, ctx.base_url)


def deploy(ctx: Context, number: int) -> tuple[int, dict[str, Any]]:
    dr = services.deploy(ctx.org, ctx.db, number, ctx.payload, ctx.reading)
    return 200, deploy_request_json(dr, ctx.base_url)


def action(step: Callable[[str, str, int, Reading], Any]) -> Handler:
    """A deploy-request action without a body (apply-deploy, revert, skip-revert, cancel)."""

    def handler(ctx: Context, number: int) -> tuple[int, dict[str, Any]]:
        return 200, deploy_request_json(step(ctx.org, ctx.db, number, ctx.reading), ctx.base_url)

    return handler


# --- Health and admin -------------------------------------------------------------------------


def admin(**handlers: Callable[[dict[str, Any], HttpRequest], tuple[int, Any]]) -> View:
    """An admin view: authenticated, by method, in one transaction, never faulted or logged."""

    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        denied = _unauthorized(request)
        if denied is not None:
            return denied
        handler = handlers.get(request.method or "GET")
        if handler is None:
            return error(405, "method_not_allowed", f"{request.method} is not supported here.")
        try:
            payload = _payload(request)
            with transaction.atomic():
                status, body = handler(payload, request)
        except ApiError as exc:
            return error(exc.status, exc.code, exc.message)
        return JsonResponse(body, status=status, safe=False)

    return view


def health(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    return 200, {"status": "ok", "service": "localscale"}


def list_faults(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    return 200, {"data": [fault.as_json() for fault in Fault.objects.order_by("pk")]}


def create_fault(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    return 201, add_fault(payload).as_json()


def clear_faults(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    deleted, _ = Fault.objects.all().delete()
    return 200, {"deleted": deleted}


def reset(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    return 200, {"deleted": services.reset()}


def get_clock(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    reading = read_clock()
    frozen = Clock.objects.filter(pk=1, frozen_at__isnull=False).exists()
    return 200, {"now": timestamp(reading.now), "time_scale": reading.time_scale, "frozen": frozen}


def set_clock(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    services.move_clock(payload)
    return get_clock(payload, request)


def stats(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    return 200, call_stats()


def calls(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    found = Call.objects.order_by("pk")
    if request.GET.get("apply"):
        found = found.filter(apply_identifier=request.GET["apply"])
    fields = ("method", "path", "kind", "apply_identifier", "status", "effective")
    return 200, {"data": list(found.values(*fields)[:1000])}


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error(404, "not_found", f"No such endpoint: {request.path}.")


def json_server_error(request: HttpRequest) -> HttpResponse:
    return error(500, "internal_error", "LocalScale failed on this call; see its log.")
