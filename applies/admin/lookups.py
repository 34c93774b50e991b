"""Admin lists take only the query parameters their own filters use.

Django admin turns any other query parameter into a field lookup: ``?lease_token__startswith=a``
rebuilds a lease token one character at a time, ``?error_message__contains=`` a masked
password, ``?state__regex=`` scans an unindexed column, and ``?options__contains=`` is an error
on SQLite. ``DeclaredLookupsOnly`` allows the parameters of the list's own filters (and of its
date hierarchy, within a calendar's bounds) and refuses the rest with a 400 (Django's
``DisallowedModelAdminLookup``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# What Django's field list filters put in the query string for a field ``f``: ``f__exact``
# and ``f__isnull`` (choices, booleans, all-values), ``f__gte`` / ``f__lt`` (dates),
# ``f__id__exact`` (relations).
_FIELD_FILTER_SUFFIXES = ("__exact", "__isnull", "__gte", "__lt", "__id__exact")

# The date hierarchy's parts and their bounds. Django turns them into a datetime, then steps a
# year, a month or a day past it: ``year=99999999999999999999`` overflows a C integer there,
# and ``year=9999`` the year after it; both would be a 500. Out of bounds is refused here (a
# 400); an impossible date within them (``month=2&day=31``) Django answers itself.
_DATE_PARTS = {"year": (1, 9998), "month": (1, 12), "day": (1, 31)}


def _date_part_ok(part: str, value: str) -> bool:
    low, high = _DATE_PARTS[part]
    return value.isascii() and value.isdigit() and low <= int(value) <= high


class DeclaredLookupsOnly:
    """Mixin for a ``ModelAdmin``: ``lookup_allowed`` says yes only to its filters' own, and to
    the parts of its date hierarchy within their bounds."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        hierarchy = getattr(self, "date_hierarchy", None)
        field, _, part = lookup.rpartition("__")
        if hierarchy and field == hierarchy and part in _DATE_PARTS:
            return _date_part_ok(part, str(value))
        return lookup in self.declared_lookups(request)

    def declared_lookups(self, request: HttpRequest | None) -> set[str]:
        model_admin: Any = self
        filters = (
            model_admin.get_list_filter(request) if request is not None else model_admin.list_filter
        )
        allowed: set[str] = set()
        hierarchy = getattr(model_admin, "date_hierarchy", None)
        if hierarchy:
            allowed.update(f"{hierarchy}__{part}" for part in _DATE_PARTS)
        for entry in filters:
            if isinstance(entry, type) and issubclass(entry, admin.SimpleListFilter):
                allowed.add(str(entry.parameter_name))
                continue
            field = entry[0] if isinstance(entry, tuple | list) else entry
            if isinstance(field, str):
                allowed.update(field + suffix for suffix in _FIELD_FILTER_SUFFIXES)
        return allowed
