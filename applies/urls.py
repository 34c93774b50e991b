from __future__ import annotations

from django.urls import path, register_converter

from applies import api, views
from applies.services.actions import Action


class ActionConverter:
    """``reclaim``, ``stop`` or ``start``: any other word is a 404, not a view error."""

    regex = "|".join(action.value for action in Action)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(ActionConverter, "action")

urlpatterns = [
    path("", views.home, name="home"),
    path("applies/", views.apply_list, name="apply-list"),
    path("applies/bulk-reclaim", views.bulk_reclaim, name="bulk-reclaim"),
    path("applies/<int:pk>/", views.apply_detail, name="apply-detail"),
    path("applies/<int:pk>/engine", views.apply_engine, name="apply-engine"),
    path("applies/<int:pk>/<action:action>", views.apply_action, name="apply-action"),
    # JSON API (session or bearer token)
    path("api/v1/dashboard", api.dashboard, name="api-dashboard"),
    path("api/v1/applies", api.apply_list, name="api-apply-list"),
    path("api/v1/applies/bulk-reclaim", api.bulk_reclaim, name="api-bulk-reclaim"),
    path("api/v1/applies/<int:pk>", api.apply_detail, name="api-apply-detail"),
    path(
        "api/v1/applies/<int:pk>/classification",
        api.apply_classification,
        name="api-apply-classification",
    ),
    path("api/v1/applies/<int:pk>/engine", api.apply_engine, name="api-apply-engine"),
    path("api/v1/applies/<int:pk>/<action:action>", api.apply_action, name="api-apply-action"),
]
