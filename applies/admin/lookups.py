"""Admin lists take only the query parameters their own filters use.

Django admin turns any other query parameter into a field lookup: ``?lease_token__startswith=a``
rebuilds a lease token one character at a time, ``?error_message__contains=`` a masked
password, ``?state__regex=`` scans an unindexed column, and ``?options__contains=`` is an error
on SQLite. ``DeclaredLookupsOnly`` allows the parameters of the list's own filters and refuses
the rest with a 400 (Django's ``DisallowedModelAdminLookup``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# What Django's field list filters put in the query string for a field ``f``: ``f__exact``
# and ``f__isnull`` (choices, booleans, all-values), ``f__gte`` / ``f__lt`` (dates),
# ``f__id__exact`` (relations).
_FIELD_FILTER_SUFFIXES = ("__exact", "__isnull", "__gte", "__lt", "__id__exact")


class DeclaredLookupsOnly:
    """Mixin for a ``ModelAdmin``: ``lookup_allowed`` says yes only to its filters' own."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in self.declared_lookups(request)

    def declared_lookups(self, request: HttpRequest | None) -> set[str]:
        model_admin: Any = self
        filters = (
            model_admin.get_list_filter(request) if request is not None else model_admin.list_filter
        )
        allowed: set[str] = set()
        hierarchy = getattr(model_admin, "date_hierarchy", None)
        if hierarchy:
            allowed.update(f"{hierarchy}__{part}" for part in ("year", "month", "day"))
        for entry in filters:
            if isinstance(entry, type) and issubclass(entry, admin.SimpleListFilter):
                allowed.add(str(entry.parameter_name))
                continue
            field = entry[0] if isinstance(entry, tuple | list) else entry
            if isinstance(field, str):
                allowed.update(field + suffix for suffix in _FIELD_FILTER_SUFFIXES)
        return allowed
