"""LocalScale's HTTP endpoints: authentication, faults, the call log and JSON around services.

Every call needs an ``Authorization: <id>:<token>`` header (401 otherwise; the value is never
stored or echoed). API calls (``/v1/…``) first consult the fault rules, then run in one
transaction holding their database's lock, then are logged with the ``X-Ternadmin-Apply``
header that says which apply made them. Expired branch passwords are dropped first, every call.
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

from localscale import branches, deploys, front, passwords
from localscale.calls import DEPLOY_REQUEST_ERROR, record_call, take_fault
from localscale.clock import Reading, read_clock
from localscale.errors import ApiError
from localscale.models import CallKind, Fault
from localscale.shapes import (
    branch_json,
    deploy_request_json,
    keyspace_json,
    page,
    password_json,
    schema_json,
    vschema_json,
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
    mysql_address: str
    effect: str  # a fault rule's effect on this call ('' for none)


Answer = tuple[int, dict[str, Any] | None]  # status, JSON body (None: no body)
Handler = Callable[..., Answer]


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def unauthorized(request: HttpRequest) -> JsonResponse | None:
    token_id, _, token = request.headers.get("Authorization", "").partition(":")
    if token_id.strip() and token.strip():
        return None
    return error(401, "unauthorized", "Authorization must be '<service token id>:<token>'.")


def payload_of(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise ApiError(400, "bad_request", "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    return payload


def _host(request: HttpRequest) -> str:
    # Not request.get_host(): the emulator answers on any address it is bound to.
    return request.META.get("HTTP_HOST") or (
        f"{request.META.get('SERVER_NAME')}:{request.META.get('SERVER_PORT')}"
    )


# --- API calls --------------------------------------------------------------------------------


def endpoint(**handlers: tuple[Handler, CallKind]) -> View:
    """A view serving ``handlers`` by HTTP method, with auth, faults and the call log."""

    @csrf_exempt
    def view(request: HttpRequest, org: str, db: str, **kwargs: Any) -> HttpResponse:
        denied = unauthorized(request)
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
    effect = fault.effect if fault is not None else ""
    status, body = _run(request, handler, org, db, kwargs, effect)
    if fault is not None and fault.status:  # ran, but the answer is "lost"
        return _fault_response(fault), status < 400
    if body is None:
        return HttpResponse(status=status), status < 400
    return JsonResponse(body, status=status), status < 400


def _run(
    request: HttpRequest,
    handler: Handler,
    org: str,
    db: str,
    kwargs: dict[str, Any],
    effect: str,
) -> tuple[int, dict[str, Any] | None]:
    try:
        payload = payload_of(request)
        passwords.expire_due()
        with transaction.atomic():
            reading = read_clock()
            branches.database_lock(org, db, reading)
            context = Context(
                org=org,
                db=db,
                reading=reading,
                payload=payload,
                query={key: request.GET.get(key, "") for key in request.GET},
                apply_identifier=request.headers.get(APPLY_HEADER, ""),
                base_url=f"{request.scheme}://{_host(request)}",
                mysql_address=front.advertised_address(_host(request)),
                effect=effect,
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
    return unauthorized(request) or error(
        501, "not_implemented", f"LocalScale does not emulate {request.method} {request.path}."
    )


# --- Handlers: branches, passwords, keyspaces, schema ----------------------------------------


def list_branches(ctx: Context) -> Answer:
    found = branches.list_branches(ctx.org, ctx.db, ctx.reading)
    return 200, page([branch_json(branch, ctx.base_url, ctx.mysql_address) for branch in found])


def create_branch(ctx: Context) -> Answer:
    branch = branches.create_branch(ctx.org, ctx.db, ctx.payload, ctx.reading)
    return 201, branch_json(branch, ctx.base_url, ctx.mysql_address)


def get_branch(ctx: Context, branch: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    return 200, branch_json(found, ctx.base_url, ctx.mysql_address)


def create_password(ctx: Context, branch: str) -> Answer:
    found = branches.ready_branch(ctx.org, ctx.db, branch, ctx.reading)
    password, secret = passwords.create(found, ctx.payload, ctx.apply_identifier)
    return 201, password_json(password, ctx.mysql_address, secret)


def list_passwords(ctx: Context, branch: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    live = passwords.live(found).order_by("pk")
    return 200, page([password_json(item, ctx.mysql_address, None) for item in live])


def delete_password(ctx: Context, branch: str, password_id: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    passwords.delete(found, password_id)
    return 204, None


def get_schema(ctx: Context, branch: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    return 200, schema_json(branches.schema(found, ctx.query.get("keyspace", "")))


def list_keyspaces(ctx: Context, branch: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    return 200, page([keyspace_json(keyspace) for keyspace in branches.keyspaces(found)])


def get_keyspace(ctx: Context, branch: str, keyspace: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    return 200, keyspace_json(branches.keyspace(found, keyspace))


def get_vschema(ctx: Context, branch: str, keyspace: str) -> Answer:
    found = branches.get_branch(ctx.org, ctx.db, branch, ctx.reading)
    return 200, vschema_json(branches.keyspace(found, keyspace))


def update_vschema(ctx: Context, branch: str, keyspace: str) -> Answer:
    found = branches.ready_branch(ctx.org, ctx.db, branch, ctx.reading)
    return 200, vschema_json(branches.update_vschema(found, keyspace, ctx.payload))


# --- Handlers: deploy requests ----------------------------------------------------------------


def list_deploy_requests(ctx: Context) -> Answer:
    found = deploys.list_deploy_requests(ctx.org, ctx.db, ctx.query, ctx.reading)
    return 200, page([deploy_request_json(dr, ctx.base_url) for dr in found])


def create_deploy_request(ctx: Context) -> Answer:
    failing = ctx.effect == DEPLOY_REQUEST_ERROR
    forced = "LocalScale was told to fail this deploy request" if failing else ""
    dr = deploys.create_deploy_request(
        ctx.org, ctx.db, ctx.payload, ctx.apply_identifier, ctx.reading, forced
    )
    return 201, deploy_request_json(dr, ctx.base_url)


def get_deploy_request(ctx: Context, number: int) -> Answer:
    dr = deploys.get_deploy_request(ctx.org, ctx.db, number, ctx.reading)
    return 200, deploy_request_json(dr, ctx.base_url)


def deploy(ctx: Context, number: int) -> Answer:
    dr = deploys.deploy(ctx.org, ctx.db, number, ctx.payload, ctx.reading)
    return 200, deploy_request_json(dr, ctx.base_url)


def action(step: Callable[[str, str, int, Reading], Any]) -> Handler:
    """A deploy-request action without a body (apply-deploy, revert, skip-revert, cancel)."""

    def handler(ctx: Context, number: int) -> Answer:
        return 200, deploy_request_json(step(ctx.org, ctx.db, number, ctx.reading), ctx.base_url)

    return handler
