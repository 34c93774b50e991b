"""What every admin page over SchemaBot's tables shares.

SchemaBot owns these rows: the admin shows them and never saves them. There is no add, change
or delete through Django's generic forms (a ``save()`` would write every column back, stale
values included, and refresh the heartbeat); state and lease fixes go through
``applies.services.fixes`` instead. Lists never count their table (``PeekPaginator``), sort only
by their fixed ordering and never compute facets, so a page costs the same at a million rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR, ChangeList
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse

from applies.admin.displays import Displays
from applies.admin.lookups import DeclaredLookupsOnly
from applies.inputs import MAX_PAGE, parse_id
from applies.paginators import PeekPaginator

LIST_PER_PAGE = 50


class NoCountChangeList(ChangeList):
    """Shows the rows the paginator already read instead of querying them again."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        paginator = self.paginator
        if isinstance(paginator, PeekPaginator) and not self.multi_page:
            self.result_list = paginator.window[: paginator.per_page]


class SchemaBotAdmin(Displays, DeclaredLookupsOnly, admin.ModelAdmin):
    """Read-only admin of one SchemaBot table, fast on big tables, filtered only by its own
    filters (``applies.admin.lookups``), its columns shown by ``applies.admin.displays``."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_max_show_all = 0  # "show all" would load the whole table
    list_per_page = LIST_PER_PAGE
    sortable_by = ()  # only the fixed, index-backed ordering
    # Never join: Django would otherwise join every foreign key of a displayed relation, and
    # SchemaBot's relations may dangle (no foreign keys; locks are deleted when released).
    list_select_related = ()
    actions: Any = ()

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> PeekPaginator:
        page = PeekPaginator.page_number(request.GET.get(PAGE_VAR, 1))
        if page > MAX_PAGE:  # an offset past 64 bits overflows; long before, it is a crawl
            raise BadRequest(f"Pages stop at {MAX_PAGE:,}: filter or search instead.")
        return PeekPaginator(queryset, per_page, page=page)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # Every SchemaBot table's key is an id; anything else finds nothing (Django then
        # says so), instead of overflowing the database's integers.
        if from_field is None and parse_id(object_id) is None:
            return None
        return super().get_object(request, object_id, from_field)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # ``sortable_by = ()`` only takes the links off the column headers: Django would still
        # sort by ``?o=N`` (``?o=3``: the applies by engine, a filesort of the whole table).
        if ORDER_VAR in request.GET:
            raise BadRequest("This list has one fixed, indexed order: it is not sorted by column.")
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME) if request.method == "POST" else []
        if any(parse_id(value) is None for value in selected):
            raise BadRequest("The selection holds something that is not an id.")
        return super().changelist_view(request, extra_context)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return NoCountChangeList

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Form, change: bool) -> None:
        raise PermissionDenied("SchemaBot's rows are changed only through ternadmin's fixes.")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        raise PermissionDenied("SchemaBot owns its rows' lifecycle; the admin deletes nothing.")


class ReadOnlyInline(Displays, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
