from __future__ import annotations

from django.urls import path, register_converter

from applies import views
from applies.api import api
from applies.inputs import parse_id
from applies.services.actions import Action


class ActionConverter:
    """``reclaim``, ``stop`` or ``start``: any other word is a 404, not a view error."""

    regex = "|".join(action.value for action in Action)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


class IdConverter:
    """An apply id: 1 to 19 ASCII digits within ``inputs.MAX_ID``; anything else is a 404."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        apply_id = parse_id(value)
        if apply_id is None:
            raise ValueError(value)  # Django answers "no such URL"
        return apply_id

    def to_url(self, value: int) -> str:
        return str(value)


class IntegerConverter:
    """Any integer as written, sign included: the API's schemas judge it (``ApplyId``), so
    ``/api/v1/applies/0`` is a 400 naming the id, not "there is no such endpoint"."""

    regex = "-?[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)  # past Python's digit limit a ValueError: Django answers "no such URL"

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(ActionConverter, "action")
register_converter(IdConverter, "id")
register_converter(IntegerConverter, "integer")

urlpatterns = [
    path("", views.home, name="home"),
    path("applies/", views.apply_list, name="apply-list"),
    path("applies/bulk-reclaim", views.bulk_reclaim, name="bulk-reclaim"),
    path("applies/<id:pk>/", views.apply_detail, name="apply-detail"),
    path("applies/<id:pk>/engine", views.apply_engine, name="apply-engine"),
    path("applies/<id:pk>/<action:action>", views.apply_action, name="apply-action"),
    # JSON API (session or bearer token): applies.api
    path("api/v1/", api.urls),
]
