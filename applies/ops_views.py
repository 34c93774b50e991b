"""Operational endpoints: ``/metrics`` for Prometheus and releasing the sweep's brake."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from applies import brake
from applies.metrics import TernadminCollector
from applies.roles import OPERATE_PERMISSION


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.TERNADMIN_METRICS_TOKEN
    if token:
        # Only "Authorization: Bearer <token>": a bare header value is refused like a wrong one.
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return HttpResponse(
                "metrics need a bearer token\n", status=401, content_type="text/plain"
            )
    registry = CollectorRegistry()
    registry.register(TernadminCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@require_POST
@login_required
@permission_required(OPERATE_PERMISSION, raise_exception=True)
def release_brake(request: HttpRequest) -> HttpResponse:
    user = request.user.get_username()
    if brake.release(by=user):
        messages.success(request, "Brake released: the next sweep pass reclaims stale applies.")
    else:
        messages.info(request, "The brake was not engaged.")
    return HttpResponseRedirect(reverse("home"))
