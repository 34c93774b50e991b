"""The admin's fix page and actions: thin views over ``applies.services``.

Each one checks its permission (403 otherwise), shows what will change, carries what the
person saw back to the service (compare-and-set) and reports the service's answer. A refused
fix writes nothing and says why; an accepted one has written one ``apply_logs`` row and gets
Django's ``LogEntry`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from applies.admin.base import LIST_PER_PAGE, SchemaBotAdmin
from applies.admin.forms import BulkActionForm, FixStateForm, parse_seen_time, seen_initial
from applies.classify import classify
from applies.models import Apply
from applies.redact import redact
from applies.roles import FIX_PERMISSION
from applies.services import actions, fixes
from applies.services.errors import Refused
from applies.services.seen import Seen

RECLAIM = actions.ACTIONS[actions.Action.RECLAIM]

# Each action answers with one line for the person (and Django's LogEntry), or raises
# ``Refused`` having written nothing.
Runner = Callable[..., str]


def _mark_failed(apply_id: int, **kwargs: Any) -> str:
    return fixes.mark_failed(apply_id, **kwargs).summary


def _reapply(apply_id: int, *, confirm_live: bool, **kwargs: Any) -> str:
    return fixes.reapply_failed(apply_id, **kwargs).summary


def _release(apply_id: int, **kwargs: Any) -> str:
    return fixes.release_lease(apply_id, **kwargs).summary


def _reclaim(apply_id: int, *, confirm_live: bool, **kwargs: Any) -> str:
    # The console's reclaim: the same claim rules as the sweep, then a recovery drive.
    return actions.reclaim(apply_id, **kwargs).message


@dataclass(frozen=True)
class BulkAction:
    name: str
    title: str
    explain: str
    permission: str
    run: Runner
    asks_confirm_live: bool = True


BULK_ACTIONS = {
    action.name: action
    for action in (
        BulkAction(
            "mark_failed",
            "Mark failed",
            "Each apply becomes failed, with your reason as its error; its unfinished "
            "operations and tasks fail with it. Lease cleared, heartbeat kept.",
            FIX_PERMISSION,
            _mark_failed,
        ),
        BulkAction(
            "reapply_failed",
            "Reapply as failed_retryable",
            "SchemaBot's reapply: a failed apply that failed recently goes back to the retry "
            "clause (attempt 0, lease cleared), with its failed operations and tasks. Refused "
            "while another apply is active on its target.",
            FIX_PERMISSION,
            _reapply,
            asks_confirm_live=False,
        ),
        BulkAction(
            "release_lease",
            "Release lease",
            "The lease (owner, token, acquired-at) is cleared; state and heartbeat stay. A "
            "driver still running loses the lease at its next write and stops.",
            FIX_PERMISSION,
            _release,
        ),
        BulkAction(
            "reclaim_now",
            "Reclaim now",
            "Claimed now by exactly the sweep's rules and handed to ternadmin's recovery "
            "driver. Refused unless a claim clause takes the apply now.",
            RECLAIM.permission,
            _reclaim,
            asks_confirm_live=False,
        ),
    )
}


class FixingAdmin(SchemaBotAdmin):
    """The applies admin's fix page and actions (see the module docstring)."""

    fix_template = "admin/applies/apply/fix_state.html"
    confirm_template = "admin/applies/apply/confirm_action.html"
    actions: Any = ("mark_failed", "reapply_failed", "release_lease", "reclaim_now")

    def has_fix_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(FIX_PERMISSION)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # Django asks this for the actions declared with ``permissions=["operate"]``.
        return request.user.has_perm(RECLAIM.permission)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # Django's history page shows a LogEntry's message as it is, and the reason in ours is
        # a person's words: a pasted secret is masked before it is stored.
        return super().log_change(
            request, obj, redact(message) if isinstance(message, str) else message
        )

    def get_urls(self) -> list[URLPattern]:
        fix = path(
            "<path:object_id>/fix/",
            self.admin_site.admin_view(self.fix_state_view),
            name="applies_apply_fix",
        )
        return [fix, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django drops an action the user may not run without a word; say 403 instead.
        if request.method == "POST":
            for name in request.POST.getlist("action"):
                action = BULK_ACTIONS.get(name)
                if action and not request.user.has_perm(action.permission):
                    raise PermissionDenied
        return super().changelist_view(request, extra_context)

    # --- the fix page -------------------------------------------------------------------------

    def fix_state_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_fix_permission(request):
            raise PermissionDenied
        apply = self.get_object(request, unquote(object_id))
        if apply is None:
            raise Http404(f"No apply with id {object_id}.")
        form = FixStateForm(request.POST or None, initial=seen_initial(apply))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = fixes.set_state(
                    apply.pk,
                    data["new_state"],
                    actor=request.user.get_username(),
                    reason=form.stated_reason,
                    seen=form.seen,
                    confirm_live=data["confirm_live"],
                    reset_heartbeat=data["reset_heartbeat"],
                )
            except Refused as refusal:
                messages.error(request, str(refusal))
                if isinstance(refusal, fixes.RowChanged):
                    apply, form = self._reloaded(request, apply, form)
            else:
                self.log_change(request, apply, f"{result.summary} Reason: {form.stated_reason}")
                messages.success(request, result.summary)
                return HttpResponseRedirect(reverse("admin:applies_apply_change", args=[apply.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": apply,
            "title": f"Fix the state of {apply}",
            "form": form,
            "live": fixes.is_live(apply),
            "verdict": classify(apply),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.fix_template, context)

    def _reloaded(
        self, request: HttpRequest, apply: Apply, form: FixStateForm
    ) -> tuple[Apply, FixStateForm]:
        """The current row, and the person's choices against it: they review, then resubmit."""
        current = self.get_object(request, str(apply.pk)) or apply
        data = form.data.copy() if isinstance(form.data, QueryDict) else QueryDict(mutable=True)
        for key, value in seen_initial(current).items():
            data[key] = value
        data["confirm_live"] = ""
        refreshed = FixStateForm(data)
        refreshed.is_valid()
        return current, refreshed

    # --- actions ------------------------------------------------------------------------------

    @admin.action(description="Mark failed (with a reason)…", permissions=["fix"])
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Apply]) -> HttpResponse | None:
        return self._bulk(request, queryset, BULK_ACTIONS["mark_failed"])

    @admin.action(description="Reapply a failed apply as failed_retryable…", permissions=["fix"])
    def reapply_failed(
        self, request: HttpRequest, queryset: QuerySet[Apply]
    ) -> HttpResponse | None:
        return self._bulk(request, queryset, BULK_ACTIONS["reapply_failed"])

    @admin.action(description="Release the lease…", permissions=["fix"])
    def release_lease(self, request: HttpRequest, queryset: QuerySet[Apply]) -> HttpResponse | None:
        return self._bulk(request, queryset, BULK_ACTIONS["release_lease"])

    @admin.action(description="Reclaim now…", permissions=["operate"])
    def reclaim_now(self, request: HttpRequest, queryset: QuerySet[Apply]) -> HttpResponse | None:
        return self._bulk(request, queryset, BULK_ACTIONS["reclaim_now"])

    def _bulk(
        self, request: HttpRequest, queryset: QuerySet[Apply], action: BulkAction
    ) -> HttpResponse | None:
        if request.POST.get("select_across") == "1":
            messages.error(
                request, "Select applies on the page: fixes are not run on a whole filtered table."
            )
            return None
        rows = list(queryset.order_by("-created_at", "-id")[: LIST_PER_PAGE + 1])
        if len(rows) > LIST_PER_PAGE:
            messages.error(request, f"Select at most {LIST_PER_PAGE} applies at a time.")
            return None
        form = BulkActionForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            self._run_bulk(request, rows, action, form)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{action.title}: confirm",
            "action": action,
            "rows": [(row, seen_initial(row), fixes.is_live(row)) for row in rows],
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.confirm_template, context)

    def _run_bulk(
        self, request: HttpRequest, rows: list[Apply], action: BulkAction, form: BulkActionForm
    ) -> None:
        reason = form.stated_reason
        for row in rows:
            seen_time = parse_seen_time(request.POST.get(f"seen-{row.pk}-updated_at", ""))
            if seen_time is None:
                messages.error(request, f"{row}: not on the confirmation page; nothing done.")
                continue
            try:
                summary = action.run(
                    row.pk,
                    actor=request.user.get_username(),
                    reason=reason,
                    seen=Seen(
                        request.POST.get(f"seen-{row.pk}-state", ""),
                        request.POST.get(f"seen-{row.pk}-token", ""),
                        seen_time,
                    ),
                    confirm_live=form.cleaned_data["confirm_live"],
                )
            except Refused as refusal:
                messages.error(request, f"{action.title} refused for {row}: {refusal}")
                continue
            self.log_change(request, row, f"{action.title}: {summary} Reason: {reason}")
            messages.success(request, summary)
