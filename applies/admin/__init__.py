"""Django admin over SchemaBot's tables: read-only pages, fixes only through services.

``apply`` registers the applies admin (list, page, fix page, actions); ``other_tables`` the
admins of SchemaBot's other tables. See ``applies.admin.base`` for what they share and
``applies.admin.displays`` for how their columns are shown. ``tokens`` and ``lockouts`` are
ternadmin's own: the API's bearer tokens, and django-axes' failed logins and lockouts.
"""

from __future__ import annotations

from django.contrib import admin

from applies.admin import apply, lockouts, other_tables, tokens

admin.site.site_header = "ternadmin admin"
admin.site.site_title = "ternadmin admin"
admin.site.index_title = "SchemaBot's tables"

__all__ = ["apply", "lockouts", "other_tables", "tokens"]
