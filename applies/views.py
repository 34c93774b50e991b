from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from applies import selectors
from applies.roles import VIEW_PERMISSION


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    counts = selectors.state_counts()
    return render(
        request,
        "applies/home.html",
        {"counts": counts, "total": sum(c.count for c in counts)},
    )
