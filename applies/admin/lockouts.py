"""django-axes' records in Django admin: failed logins and lockouts, and clearing them.

Deleting an access attempt clears its lockout (the admin role may). Registered here instead of
by django-axes (``AXES_ENABLE_ADMIN = False``) so the lists take only their own filters.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin

from applies.admin.lookups import DeclaredLookupsOnly


@admin.register(AccessAttempt)
class LockoutAdmin(DeclaredLookupsOnly, AccessAttemptAdmin):
    """Failed logins per user name and address; "Locked out" ones block logins until their
    cool-off passes or the row is deleted here."""


@admin.register(AccessLog)
class LoginLogAdmin(DeclaredLookupsOnly, AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class LoginFailureLogAdmin(DeclaredLookupsOnly, AccessFailureLogAdmin):
    pass
