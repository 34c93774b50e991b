"""The API's bearer tokens in Django admin: who has one, when it was last used, revoking it.

Tokens are created only by ``manage.py create_api_token`` (the token is printed once and only
its hash is stored, so there is nothing here to show or edit). Revoking keeps the row.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from applies.admin.lookups import DeclaredLookupsOnly
from applies.api_tokens import revoke, usable
from applies.models import ApiToken


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        value = self.value()
        if value == "active":
            return queryset.filter(usable(now))
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if value == "expired":
            return queryset.filter(Q(revoked_at__isnull=True) & Q(expires_at__lte=now))
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "user",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (StatusFilter,)
    search_fields = ("name", "user__username")
    ordering = ("-id",)
    list_select_related = ("user",)
    fields = readonly_fields = (
        "name",
        "user",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
    )
    actions = ("revoke_tokens",)

    @admin.display(description="status")
    def status(self, obj: ApiToken) -> str:
        return obj.status(timezone.now())

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = revoke(queryset, by=request.user.get_username())
        messages.success(request, f"Revoked {count} token(s): the API now refuses them (401).")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by `manage.py create_api_token`, which prints the token once

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the record of who had a token stays
