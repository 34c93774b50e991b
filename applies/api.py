"""The JSON API: the console's reads and actions for scripts and chat-ops.

Authentication is the browser session (with CSRF on POST, as for the pages) or
``Authorization: Bearer <token>`` (``manage.py create_api_token``; no CSRF: no cookie is
involved). Reads need the viewer role, actions the operator role. Errors are JSON:
``{"error": <code>, "message": <for people>}`` with 400, 401, 403, 404, 405 or 409.
Lease tokens appear shortened (8 characters) and are sent back that way as ``seen_token``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from applies import selectors
from applies.api_tokens import user_for
from applies.classify import Classification, classify
from applies.filters import ApplyFilter
from applies.forms import parse_item
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Drive, Task
from applies.redact import redact, redact_json, short_token
from applies.roles import OPERATE_PERMISSION, VIEW_PERMISSION
from applies.selectors.live import LiveApply
from applies.services import actions
from applies.services.actions import Action, ActionRefused, ReclaimItem, Refusal
from applies.states import apply_state

MAX_LIMIT = 200
Payload = dict[str, Any]
View = Callable[..., Payload | tuple[Payload, int]]

REFUSAL_STATUS = {Refusal.NOT_FOUND: 404, Refusal.INVALID: 400}


def error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _csrf_failure(request: HttpRequest) -> JsonResponse | None:
    check = CsrfViewMiddleware(lambda _: HttpResponse())
    check.process_request(request)
    rejected = check.process_view(request, lambda _: HttpResponse(), (), {})
    if rejected is None:
        return None
    return error("csrf", "CSRF check failed: send the X-CSRFToken header with a session.", 403)


def _authenticate(request: HttpRequest) -> JsonResponse | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for(header.removeprefix("Bearer ").strip())
        if user is None:
            return error("unauthenticated", "The bearer token is not valid.", 401)
        request.user = user
        return None
    if not request.user.is_authenticated:
        return error("unauthenticated", "Log in, or send Authorization: Bearer <token>.", 401)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return _csrf_failure(request)
    return None


def endpoint(permission: str, method: str = "GET") -> Callable[[View], Callable[..., HttpResponse]]:
    """An API view: method, authentication, CSRF (sessions only) and role checked first."""

    def decorate(view: View) -> Callable[..., HttpResponse]:
        @csrf_exempt  # checked in _authenticate, only when a session cookie authenticates
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                response = error("method", f"Use {method}.", 405)
                response["Allow"] = method
                return response
            failure = _authenticate(request)
            if failure is not None:
                return failure
            if not request.user.has_perm(permission):
                role = "operator" if permission == OPERATE_PERMISSION else "viewer"
                return error("forbidden", f"This needs the {role} role.", 403)
            result = view(request, *args, **kwargs)
            body, status = result if isinstance(result, tuple) else (result, 200)
            return JsonResponse(body, status=status)

        return wrapper

    return decorate


# --- Shapes ----------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def apply_json(apply: Apply, classification: Classification | None = None) -> Payload:
    info = apply_state(apply.state)
    data: Payload = {
        "id": apply.pk,
        "apply_identifier": apply.apply_identifier,
        "state": apply.state,
        "state_label": info.label,
        "terminal": info.terminal,
        "engine": apply.engine,
        "database_name": apply.database_name,
        "database_type": apply.database_type,
        "environment": apply.environment,
        "deployment": apply.deployment,
        "repository": apply.repository,
        "pull_request": apply.pull_request,
        "lease": {
            "owner": apply.lease_owner,
            "token_short": short_token(apply.lease_token),
        },
        "heartbeat_age_seconds": getattr(apply, "heartbeat_age", None),
        "created_at": _time(apply.created_at),
        "updated_at": _time(apply.updated_at),
        "classification": classification.as_json() if classification else None,
        "url": reverse("apply-detail", args=[apply.pk]),
    }
    return data


def _full_apply_json(detail: selectors.ApplyDetail) -> Payload:
    apply = detail.apply
    data = apply_json(apply, detail.classification)
    data["lease"].update(
        acquired_at=_time(apply.lease_acquired_at),
        age_seconds=getattr(apply, "lease_age", None),
    )
    data.update(
        lock_id=apply.lock_id,
        plan_id=apply.plan_id,
        plan_identifier=detail.plan_identifier,
        caller=apply.caller,
        installation_id=apply.installation_id,
        external_id=apply.external_id,
        attempt=apply.attempt,
        error_message=redact(apply.error_message) or None,
        options=redact_json(apply.options),
        started_at=_time(apply.started_at),
        completed_at=_time(apply.completed_at),
    )
    return data


def _operation_json(operation: ApplyOperation, resume: selectors.ResumeState) -> Payload:
    return {
        "id": operation.pk,
        "deployment": operation.deployment,
        "target": operation.target,
        "state": operation.state,
        "cutover_policy": operation.cutover_policy,
        "on_failure": operation.on_failure,
        "claim_clause": getattr(operation, "claim_clause", None),
        "error_message": redact(operation.error_message) or None,
        "lease": {
            "owner": operation.lease_owner,
            "token_short": short_token(operation.lease_token),
            "acquired_at": _time(operation.lease_acquired_at),
        },
        "heartbeat_age_seconds": getattr(operation, "heartbeat_age", None),
        "engine_resume": {
            "context": resume.context or None,
            "branch_name": resume.branch_name or None,
            "deploy_request_id": resume.deploy_request_id,
            "deploy_request_url": resume.deploy_request_url or None,
            "other": resume.other,
            "problem": resume.problem or None,
        },
        "started_at": _time(operation.started_at),
        "completed_at": _time(operation.completed_at),
    }


def _task_json(task: Task) -> Payload:
    return {
        "id": task.pk,
        "task_identifier": task.task_identifier,
        "apply_operation_id": task.apply_operation_id,
        "namespace": task.namespace,
        "table_name": task.table_name,
        "ddl_action": task.ddl_action,
        "ddl": task.ddl,
        "state": task.state,
        "attempt": task.attempt,
        "rows_copied": task.rows_copied,
        "rows_total": task.rows_total,
        "progress_percent": task.progress_percent,
        "eta_seconds": task.eta_seconds,
        "error_message": redact(task.error_message) or None,
        "updated_age_seconds": getattr(task, "updated_age", None),
    }


def _log_json(log: ApplyLog) -> Payload:
    return {
        "id": log.pk,
        "created_at": _time(log.created_at),
        "level": log.level,
        "event_type": log.event_type,
        "source": log.source,
        "message": redact(log.message),
        "old_state": log.old_state,
        "new_state": log.new_state,
        "task_id": log.task_id,
        "metadata": redact_json(log.metadata),
    }


def _request_json(request: ApplyControlRequest) -> Payload:
    return {
        "operation": request.operation,
        "status": request.status,
        "requested_by": request.requested_by,
        "error_message": redact(request.error_message) or None,
        "created_at": _time(request.created_at),
        "updated_at": _time(request.updated_at),
        "completed_at": _time(request.completed_at),
    }


def _drive_json(drive: Drive) -> Payload:
    return {
        "id": drive.pk,
        "trigger": drive.trigger,
        "requested_by": drive.requested_by,
        "owner": drive.owner,
        "lease_token_short": short_token(drive.lease_token),
        "clause": drive.clause,
        "claimed_state": drive.claimed_state,
        "end_state": drive.end_state,
        "outcome": drive.outcome,
        "message": redact(drive.message),
        "started_at": _time(drive.started_at),
        "finished_at": _time(drive.finished_at),
    }


def _live_json(item: LiveApply) -> Payload:
    return apply_json(item.apply, item.classification)


# --- Reads -----------------------------------------------------------------------------------


def _counts_json(counts: selectors.StateCounts) -> Payload:
    rows = [
        {
            "state": row.state.value,
            "label": row.state.label,
            "terminal": row.state.terminal,
            "count": row.total,
            "exact": row.exact,  # False: "count" is the cap and there are more
            "by_engine": row.by_engine,
        }
        for row in counts.rows
    ]
    return {"rows": rows, "cap": counts.cap, "highest_id": counts.highest_id}


def _sweep_json(sweep: selectors.SweepHealth) -> Payload:
    last = sweep.last
    return {
        "last_started_at": _time(last.started_at) if last else None,
        "last_age_seconds": getattr(last, "age", None),
        "last_ok": last.ok if last else None,
        "last_claimed": last.claimed if last else None,
        "overdue": sweep.overdue,
        "brake_engaged": sweep.braked,
        "brake_reason": sweep.brake.reason if sweep.brake and sweep.braked else None,
        "recent_drives": [_drive_json(drive) for drive in sweep.drives],
    }


@endpoint(VIEW_PERMISSION)
def dashboard(request: HttpRequest) -> Payload:
    board = selectors.dashboard()
    return {
        "counts": _counts_json(board.counts),
        "stuck": [_live_json(item) for item in board.stuck],
        "wedged": [_live_json(item) for item in board.wedged],
        "not_progressing": [
            {**_live_json(idle.live), "idle_seconds": idle.idle_seconds, "progress": idle.progress}
            for idle in board.not_progressing
        ],
        "needs_human": [_live_json(item) for item in board.needs_human],
        "healthy": board.healthy,
        "sweep": _sweep_json(board.sweep),
    }


@endpoint(VIEW_PERMISSION)
def apply_list(request: HttpRequest) -> Payload | tuple[Payload, int]:
    """Filters as on the list page; ``after`` / ``before`` cursors; ``limit`` up to 200."""
    filterset = ApplyFilter(request.GET, queryset=selectors.base_queryset())
    if not filterset.is_valid():
        return {"error": "invalid", "message": filterset.errors.get_json_data()}, 400
    try:
        limit = min(MAX_LIMIT, max(1, int(request.GET.get("limit", selectors.listing.PAGE_SIZE))))
    except ValueError:
        return {"error": "invalid", "message": "limit must be a number"}, 400
    oldest = request.GET.get("sort") == selectors.Order.OLDEST.value
    page = selectors.apply_page(
        filterset.qs,
        order=selectors.Order.OLDEST if oldest else selectors.Order.NEWEST,
        after=selectors.Cursor.decode(request.GET.get("after")),
        before=selectors.Cursor.decode(request.GET.get("before")),
        size=limit,
        prefix=filterset.prefix(),
    )
    return {
        "results": [apply_json(row, page.classifications.get(row.pk)) for row in page.rows],
        "next": _page_link(request, "after", page.older),
        "previous": _page_link(request, "before", page.newer),
    }


def _page_link(request: HttpRequest, key: str, cursor: selectors.Cursor | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    query[key] = cursor.encode()
    return f"{request.path}?{query.urlencode()}"


def _not_found(pk: int) -> tuple[Payload, int]:
    return {"error": "not_found", "message": f"There is no apply with id {pk}."}, 404


@endpoint(VIEW_PERMISSION)
def apply_detail(request: HttpRequest, pk: int) -> Payload | tuple[Payload, int]:
    detail = selectors.apply_detail(pk)
    if detail is None:
        return _not_found(pk)
    data = _full_apply_json(detail)
    data.update(
        operations=[
            _operation_json(o, r) for o, r in zip(detail.operations, detail.resume, strict=True)
        ],
        tasks=[_task_json(task) for task in detail.tasks],
        timeline=[_log_json(log) for log in detail.timeline],
        timeline_truncated=detail.timeline_truncated,
        control_requests=[_request_json(request) for request in detail.control_requests],
        drives=[_drive_json(drive) for drive in detail.drives],
        actions={
            action: {"allowed": possible.allowed, "why": possible.why}
            for action, possible in (
                ("reclaim", detail.reclaim),
                ("stop", detail.stop),
                ("start", detail.start),
            )
        },
    )
    return data


@endpoint(VIEW_PERMISSION)
def apply_classification(request: HttpRequest, pk: int) -> Payload | tuple[Payload, int]:
    apply = selectors.get_apply(pk)
    if apply is None:
        return _not_found(pk)
    return classify(apply).as_json()


@endpoint(VIEW_PERMISSION)
def apply_engine(request: HttpRequest, pk: int) -> Payload | tuple[Payload, int]:
    detail = selectors.apply_detail(pk)
    if detail is None:
        return _not_found(pk)
    answers = [selectors.live_state(detail.apply, resume) for resume in detail.resume]
    return {"apply_id": pk, "operations": [answer.as_json() for answer in answers]}


# --- Actions ---------------------------------------------------------------------------------


def _body(request: HttpRequest) -> Payload | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _refused(refused: ActionRefused) -> tuple[Payload, int]:
    return {"error": refused.code.value, "message": refused.message}, REFUSAL_STATUS.get(
        refused.code, 409
    )


@endpoint(OPERATE_PERMISSION, method="POST")
def apply_action(request: HttpRequest, pk: int, action: str) -> Payload | tuple[Payload, int]:
    """Body: ``{"seen_state": …, "seen_token": <8 chars>, "reason": …}``."""
    body = _body(request)
    if body is None:
        return {"error": "invalid", "message": "The body must be a JSON object."}, 400
    service = {
        Action.RECLAIM: actions.reclaim,
        Action.STOP: actions.request_stop,
        Action.START: actions.request_start,
    }[Action(action)]
    try:
        result = service(
            pk,
            actor=request.user.get_username(),
            seen_state=str(body.get("seen_state") or ""),
            seen_token=str(body.get("seen_token") or ""),
            reason=str(body.get("reason") or ""),
        )
    except ActionRefused as refused:
        return _refused(refused)
    return result.as_json()


@endpoint(OPERATE_PERMISSION, method="POST")
def bulk_reclaim(request: HttpRequest) -> Payload | tuple[Payload, int]:
    """Body: ``{"items": [{"id", "seen_state", "seen_token"}, …] or ["id:state:token", …],
    "reason": …}``; each apply is reclaimed on its own and reported in ``results``."""
    body = _body(request)
    items = _items(body.get("items") if body else None)
    if body is None or items is None:
        return {"error": "invalid", "message": "Send items and a reason."}, 400
    reason = str(body.get("reason") or "")
    if not reason.strip():
        return {"error": "invalid", "message": "Give a reason."}, 400
    results = actions.bulk_reclaim(items, actor=request.user.get_username(), reason=reason)
    return {"results": [result.as_json() for result in results]}


def _items(raw: Any) -> list[ReclaimItem] | None:
    if not isinstance(raw, list) or not raw:
        return None
    items: list[ReclaimItem] = []
    for entry in raw:
        if isinstance(entry, str):
            item = parse_item(entry)
        elif isinstance(entry, dict) and str(entry.get("id", "")).isdigit():
            item = ReclaimItem(
                int(entry["id"]),
                str(entry.get("seen_state") or ""),
                str(entry.get("seen_token") or ""),
            )
        else:
            item = None
        if item is None:
            return None
        items.append(item)
    return items
