"""The API's endpoints: the console's reads and actions, thin over selectors and services."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from ninja import Query, Router

from applies import selectors
from applies.api.auth import VIEWER, needs
from applies.api.errors import ApiError
from applies.api.rows import ClassificationOut, apply_out
from applies.api.schemas import ActionIn, ApplyId, BulkIn, ListQuery
from applies.api.shapes import (
    ActionResultOut,
    ApplyDetailOut,
    BulkResultsOut,
    DashboardOut,
    EngineOut,
    ErrorOut,
    PageOut,
    dashboard_out,
    detail_out,
)
from applies.classify import classify
from applies.filters import ApplyFilter
from applies.services import actions
from applies.services.actions import ACTIONS, Action, ActionSpec

router = Router()

ERRORS = {code: ErrorOut for code in (400, 401, 403)}
ACTION_ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409)}


def _not_found(pk: int) -> ApiError:
    return ApiError("not_found", f"There is no apply with id {pk}.", 404)


@router.get("/dashboard", auth=VIEWER, response={200: DashboardOut, **ERRORS})
def dashboard(request: HttpRequest) -> DashboardOut:
    """Stuck, wedged, idle and needs-a-human applies, counts by state, the sweep's health."""
    return dashboard_out(selectors.dashboard())


@router.get("/applies", auth=VIEWER, response={200: PageOut, **ERRORS})
def apply_list(request: HttpRequest, query: Query[ListQuery]) -> PageOut:
    """Filters as on the list page; ``next`` / ``previous`` are the neighbouring pages."""
    filterset = ApplyFilter(request.GET, queryset=selectors.base_queryset())
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(str(e) for e in errors)}"
            for name, errors in filterset.errors.items()
        )
        raise ApiError("invalid", f"Invalid filter: {problems}", 400)
    page = selectors.apply_page(
        filterset.qs,
        order=query.sort,
        after=selectors.Cursor.decode(query.after),
        before=selectors.Cursor.decode(query.before),
        size=query.limit,
        prefix=filterset.prefix(),
    )
    return PageOut(
        results=[apply_out(row, page.classifications.get(row.pk)) for row in page.rows],
        next=_page_link(request, "after", page.older),
        previous=_page_link(request, "before", page.newer),
    )


def _page_link(request: HttpRequest, key: str, cursor: selectors.Cursor | None) -> str | None:
    query = selectors.page_query(request.GET, key, cursor)
    return None if query is None else f"{request.path}?{query}"


@router.get(
    "/applies/{integer:pk}", auth=VIEWER, response={200: ApplyDetailOut, 404: ErrorOut, **ERRORS}
)
def apply_detail(request: HttpRequest, pk: ApplyId) -> ApplyDetailOut:
    """Everything about one apply: lease, operations, tasks, timeline, what actions allow."""
    detail = selectors.apply_detail(pk)
    if detail is None:
        raise _not_found(pk)
    return detail_out(detail)


@router.get(
    "/applies/{integer:pk}/classification",
    auth=VIEWER,
    response={200: ClassificationOut, 404: ErrorOut, **ERRORS},
)
def apply_classification(request: HttpRequest, pk: ApplyId) -> ClassificationOut:
    """Claimable now, healthy, needs a human, wedged or terminal, and why."""
    apply = selectors.get_apply(pk)
    if apply is None:
        raise _not_found(pk)
    return ClassificationOut(**classify(apply).as_json())


@router.get(
    "/applies/{integer:pk}/engine", auth=VIEWER, response={200: EngineOut, 404: ErrorOut, **ERRORS}
)
def apply_engine(request: HttpRequest, pk: ApplyId) -> EngineOut:
    """What the engine says now about each operation's persisted state."""
    found = selectors.engine_resume(pk)
    if found is None:
        raise _not_found(pk)
    answers = [selectors.live_state(found.apply, resume) for resume in found.resume]
    return EngineOut.model_validate(
        {"apply_id": pk, "operations": [answer.as_json() for answer in answers]}
    )


@router.post(
    "/applies/bulk-reclaim",
    auth=needs(ACTIONS[Action.RECLAIM].permission),
    response={200: BulkResultsOut, **ERRORS},
)
def bulk_reclaim(request: HttpRequest, body: BulkIn) -> BulkResultsOut:
    """Reclaim each apply on its own; each is reported in ``results``."""
    results = actions.bulk_reclaim(
        body.reclaim_items(), actor=request.user.get_username(), reason=body.reason
    )
    return BulkResultsOut.model_validate({"results": [result.as_json() for result in results]})


def _action_view(spec: ActionSpec) -> Callable[[HttpRequest, int, ActionIn], ActionResultOut]:
    """One endpoint per action of ``ACTIONS`` (``reclaim``, ``stop``, ``start``), each in the
    OpenAPI document with its own name."""

    def act(request: HttpRequest, pk: ApplyId, body: ActionIn) -> ActionResultOut:
        result = spec.service(
            pk, actor=request.user.get_username(), reason=body.reason, seen=body.seen()
        )
        return ActionResultOut.model_validate(result.as_json())

    act.__name__ = f"apply_{spec.action.value}"
    act.__doc__ = (
        f"{spec.title}, only if the apply is still as the operator saw it (409 ``changed``"
        " otherwise); written to its timeline with the reason."
    )
    return act


for _spec in ACTIONS.values():
    router.post(
        f"/applies/{{integer:pk}}/{_spec.action.value}",
        auth=needs(_spec.permission),
        response={200: ActionResultOut, **ACTION_ERRORS},
        url_name=f"api-apply-{_spec.action.value}",
    )(_action_view(_spec))
