"""LocalScale's own endpoints (not PlanetScale's): health, faults, clock, reset, statistics,
the call log and seeding a database's production schema. Authenticated, never faulted or logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from localscale import branches, resetting
from localscale.calls import add_fault, call_stats
from localscale.clock import move_clock, read_clock
from localscale.errors import ApiError
from localscale.models import Call, Clock, Fault
from localscale.shapes import timestamp
from localscale.views import error, payload_of, unauthorized

AdminHandler = Callable[[dict[str, Any], HttpRequest], tuple[int, Any]]


def admin(**handlers: AdminHandler) -> Callable[[HttpRequest], HttpResponse]:
    """An admin view: authenticated, by method, in one transaction."""

    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        denied = unauthorized(request)
        if denied is not None:
            return denied
        handler = handlers.get(request.method or "GET")
        if handler is None:
            return error(405, "method_not_allowed", f"{request.method} is not supported here.")
        try:
            payload = payload_of(request)
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
    return 200, {"deleted": resetting.reset()}


def get_clock(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    reading = read_clock()
    frozen = Clock.objects.filter(pk=1, frozen_at__isnull=False).exists()
    return 200, {"now": timestamp(reading.now), "time_scale": reading.time_scale, "frozen": frozen}


def set_clock(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    move_clock(payload)
    return get_clock(payload, request)


def stats(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    return 200, call_stats()


def calls(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    found = Call.objects.order_by("pk")
    if request.GET.get("apply"):
        found = found.filter(apply_identifier=request.GET["apply"])
    fields = ("method", "path", "kind", "apply_identifier", "status", "effective")
    return 200, {"data": list(found.values(*fields)[:1000])}


def seed_database(payload: dict[str, Any], request: HttpRequest) -> tuple[int, Any]:
    """``{"organization", "database", "keyspaces": {name: {"tables": [DDL], "vschema"}}}``."""
    org = branches.text(payload, "organization")
    db = branches.text(payload, "database")
    main = branches.seed_database(org, db, payload.get("keyspaces") or {}, read_clock())
    return 201, {"keyspaces": [keyspace.name for keyspace in branches.keyspaces(main)]}


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error(404, "not_found", f"No such endpoint: {request.path}.")


def json_server_error(request: HttpRequest) -> HttpResponse:
    return error(500, "internal_error", "LocalScale failed on this call; see its log.")
