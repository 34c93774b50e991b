"""The console's pages. Thin: a selector reads, a service acts, a template shows.

Every page needs a login; reading needs the viewer role, acting the operator role (403 page
otherwise). Actions are POST-only with CSRF, confirm first on a GET page, and carry the state
and short lease token the operator saw.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from applies import selectors, states
from applies.filters import ApplyFilter
from applies.forms import ActionForm, BulkReclaimForm
from applies.models import Apply
from applies.roles import OPERATE_PERMISSION, VIEW_PERMISSION
from applies.services import actions
from applies.services.actions import ACTIONS, Action, ActionSpec
from applies.services.errors import Refusal, Refused
from applies.services.seen import ReclaimItem, Seen
from applies.tables import ApplyTable

BULK_RECLAIM = ACTIONS[Action.RECLAIM]


def _frame(request: HttpRequest) -> dict[str, Any]:
    return {
        "can_operate": request.user.has_perm(OPERATE_PERMISSION),
        "refresh_seconds": settings.TERNADMIN_CONSOLE_REFRESH_SECONDS,
    }


def _partial(request: HttpRequest) -> bool:
    return request.GET.get("partial") == "1"


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard; ``?partial=1`` renders only the part that refreshes itself."""
    context = {"board": selectors.dashboard(), **_frame(request)}
    template = "applies/_dashboard.html" if _partial(request) else "applies/dashboard.html"
    return render(request, template, context)


class ApplyListView(PermissionRequiredMixin, SingleTableMixin, FilterView):
    """Filtered applies, newest first, in keyset pages ("newer" / "older"), never counted."""

    permission_required = VIEW_PERMISSION
    filterset_class = ApplyFilter
    table_class = ApplyTable
    table_pagination = False
    template_name = "applies/apply_list.html"
    http_method_names = ["get"]

    def get_queryset(self) -> Any:
        return selectors.base_queryset()

    @property
    def order(self) -> selectors.Order:
        oldest = self.request.GET.get("sort") == selectors.Order.OLDEST.value
        return selectors.Order.OLDEST if oldest else selectors.Order.NEWEST

    @cached_property
    def page(self) -> selectors.ApplyPage:
        return selectors.apply_page(
            self.object_list,
            order=self.order,
            after=selectors.Cursor.decode(self.request.GET.get("after")),
            before=selectors.Cursor.decode(self.request.GET.get("before")),
            prefix=self.filterset.prefix(),
        )

    def get_table_data(self) -> list[Apply]:
        return self.page.rows

    def get_table_kwargs(self) -> dict[str, Any]:
        return {"classifications": self.page.classifications}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            page=self.page,
            newer_url=self._link("before", self.page.newer),
            older_url=self._link("after", self.page.older),
            first_url=self._link(None, None) if not self.page.first else None,
            state_choices=states.choices(states.APPLY_STATES),
            **_frame(self.request),
        )
        return context

    def _link(self, key: str | None, cursor: selectors.Cursor | None) -> str | None:
        query = selectors.page_query(self.request.GET, key, cursor)
        return None if query is None else f"?{query}"


apply_list = login_required(ApplyListView.as_view())


def _detail_or_404(pk: int) -> selectors.ApplyDetail:
    detail = selectors.apply_detail(pk)
    if detail is None:
        raise Http404(f"There is no apply with id {pk}.")
    return detail


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def apply_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = _detail_or_404(pk)
    context = {"d": detail, **_frame(request)}
    template = "applies/_detail.html" if _partial(request) else "applies/apply_detail.html"
    return render(request, template, context)


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def apply_engine(request: HttpRequest, pk: int) -> HttpResponse:
    """What the engine says now about the apply's persisted state (a fragment)."""
    found = selectors.engine_resume(pk)
    if found is None:
        raise Http404(f"There is no apply with id {pk}.")
    answers = [selectors.live_state(found.apply, resume) for resume in found.resume]
    return render(request, "applies/_engine_live.html", {"answers": answers})


@require_http_methods(["GET", "POST"])
@login_required
def apply_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET: the confirmation page. POST: the action, then back to the apply's page."""
    spec = ACTIONS[Action(action)]
    if not request.user.has_perm(spec.permission):
        raise PermissionDenied
    if request.method == "POST":
        form = ActionForm(request.POST)
        if form.is_valid():
            return _act(request, pk, spec, form)
        return _confirm(request, pk, spec, form, status=400)
    initial = {"seen_state": request.GET.get("state"), "seen_token": request.GET.get("token")}
    return _confirm(request, pk, spec, ActionForm(initial=initial))


def _confirm(
    request: HttpRequest, pk: int, spec: ActionSpec, form: ActionForm, *, status: int = 200
) -> HttpResponse:
    now = selectors.apply_actions(pk)
    if now is None:
        raise Http404(f"There is no apply with id {pk}.")
    apply = now.apply
    seen_state = form["seen_state"].value()
    if seen_state is None:  # opened without what the operator saw: confirm what is there now
        seen = Seen.of(apply)
        form = ActionForm(initial={"seen_state": seen.state, "seen_token": seen.token})
    else:
        seen = Seen(seen_state, form["seen_token"].value() or "")
    context = {
        "d": now,
        "action": spec.action,
        "title": spec.title,
        "form": form,
        "changed": not (seen.same_state(apply) and seen.same_lease(apply)),
        "possible": now.possible[spec.action],
        **_frame(request),
    }
    return render(request, "applies/confirm_action.html", context, status=status)


def _act(request: HttpRequest, pk: int, spec: ActionSpec, form: ActionForm) -> HttpResponse:
    actor = request.user.get_username()
    try:
        result = spec.service(pk, actor=actor, reason=form.stated_reason, seen=form.seen)
    except Refused as refused:
        messages.error(request, f"{spec.title} refused: {refused.message}.")
        if refused.code is Refusal.NOT_FOUND:
            return redirect("apply-list")
    else:
        messages.success(request, result.message)
    return redirect("apply-detail", pk=pk)


@require_POST
@login_required
def bulk_reclaim(request: HttpRequest) -> HttpResponse:
    """Reclaim the selected applies: a first POST shows the confirmation, a second acts."""
    if not request.user.has_perm(BULK_RECLAIM.permission):
        raise PermissionDenied
    selected = request.POST.getlist("item")
    if not selected:
        messages.error(request, "Select at least one stuck apply to reclaim.")
        return redirect("home")
    form = BulkReclaimForm(request.POST)
    # Tampered with, or more than the cap: refused before it is even confirmed.
    if not form.is_valid() and form.has_error("item"):
        return _confirm_bulk(request, selected, form, status=400)
    if request.POST.get("confirmed") != "1":
        return _confirm_bulk(request, selected, BulkReclaimForm())
    if not form.is_valid():
        return _confirm_bulk(request, selected, form, status=400)
    results = actions.bulk_reclaim(
        form.cleaned_data["item"], actor=request.user.get_username(), reason=form.stated_reason
    )
    for result in results:
        if result.ok:
            messages.success(request, result.message)
        else:
            messages.error(request, f"Apply {result.apply_id}: reclaim refused: {result.message}.")
    return redirect("home")


def _confirm_bulk(
    request: HttpRequest, selected: list[str], form: BulkReclaimForm, *, status: int = 200
) -> HttpResponse:
    items = [(value, ReclaimItem.decode(value)) for value in selected]
    ids = [item.apply_id for _, item in items if item is not None]
    rows = selectors.applies_by_id(ids)
    context = {
        "form": form,
        "selected": [(value, rows.get(item.apply_id) if item else None) for value, item in items],
        "unreadable": [value for value, item in items if item is None],
        **_frame(request),
    }
    return render(request, "applies/confirm_bulk.html", context, status=status)
