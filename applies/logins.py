"""Login throttling (django-axes): who a failed login counts against, and what a locked-out
person sees.

Failures count against the user name and, separately, the client address: either reaching
``TERNADMIN_LOGIN_FAILURE_LIMIT`` locks logins out for ``TERNADMIN_LOGIN_LOCKOUT_MINUTES``
(settings). Only password logins go through django-axes; the API's bearer tokens never do.
Admins see and clear lockouts in Django admin (``applies.admin.lockouts``) or with
``manage.py axes_reset``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from applies.durations import duration


def client_ip(request: HttpRequest) -> str:
    """The address a failure counts against. Behind the TLS proxy (``TERNADMIN_BEHIND_PROXY``)
    every request comes from the proxy, which appends the client's address to
    X-Forwarded-For: the last entry is the one the proxy vouches for."""
    if settings.TERNADMIN_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return str(request.META.get("REMOTE_ADDR", ""))


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, saying why no login is possible now and for how long (429)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {
        "locked_out": True,
        "cooloff": duration(seconds),
        "next": request.GET.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)
