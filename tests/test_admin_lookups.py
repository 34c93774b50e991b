"""Admin lists take only their own filters' parameters: no field lookups from the URL."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from applies.admin.lookups import DeclaredLookupsOnly
from applies.models import Apply
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import STALE, make_apply
from tests.console_fixtures import DRIVER_TOKEN, give_lease
from tests.test_admin import result_rows, staff_user

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
LISTS = {
    "apply": "/admin/applies/apply/",
    "applyoperation": "/admin/applies/applyoperation/",
    "task": "/admin/applies/task/",
    "applylog": "/admin/applies/applylog/",
    "applycontrolrequest": "/admin/applies/applycontrolrequest/",
    "lock": "/admin/applies/lock/",
    "plan": "/admin/applies/plan/",
}
PROBES = (
    "lease_token__startswith=a",
    "error_message__contains=hunter",
    "state__regex=.*",
    "options__contains=x",
    "id__gt=0",
    "apply__lease_token__startswith=a",
)


@pytest.fixture
def admin_client() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(staff_user(Role.ADMIN))
    return client


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("model", sorted(LISTS))
def test_undeclared_lookups_are_refused(admin_client: Client, model: str, probe: str) -> None:
    give_lease(make_apply(A.RUNNING, error_message="password hunter2"), STALE)
    response = admin_client.get(f"{LISTS[model]}?{probe}")
    assert response.status_code == 400, (model, probe, response.status_code)


def test_a_lease_token_cannot_be_guessed_a_character_at_a_time(admin_client: Client) -> None:
    apply = give_lease(make_apply(A.RUNNING), STALE)
    for guess in (DRIVER_TOKEN[:1], "z"):
        response = admin_client.get(f"{LISTS['apply']}?lease_token__startswith={guess}")
        assert response.status_code == 400
        assert apply.apply_identifier not in response.content.decode()


@pytest.mark.parametrize("order", ["3", "-3", "2.1", ""])
@pytest.mark.parametrize("model", sorted(LISTS))
def test_a_list_is_never_sorted_by_a_column_from_the_url(
    admin_client: Client, model: str, order: str
) -> None:
    """``?o=3`` would sort the applies by engine: a filesort of the whole table."""
    make_apply(A.RUNNING)
    response = admin_client.get(f"{LISTS[model]}?o={order}")
    assert response.status_code == 400, (model, order, response.status_code)
    assert admin_client.get(LISTS[model]).status_code == 200


def test_the_lists_own_filters_and_search_still_work(admin_client: Client) -> None:
    running = make_apply(A.RUNNING)
    failed = make_apply(A.FAILED)
    rows = result_rows(admin_client.get(f"{LISTS['apply']}?state=running").content)
    assert running.apply_identifier in rows and failed.apply_identifier not in rows
    response = admin_client.get(f"{LISTS['apply']}?classification=claimable_now&environment=")
    assert response.status_code == 200
    found = admin_client.get(f"{LISTS['apply']}?q={failed.apply_identifier[:12]}")
    assert failed.apply_identifier in result_rows(found.content)
    for url in (f"{LISTS['task']}?state=running", f"{LISTS['applylog']}?level=info&event_type=x"):
        assert admin_client.get(url).status_code == 200, url


AXES_LISTS = ("accessattempt", "accesslog", "accessfailurelog")
DAY = "attempt_time__year=2026&attempt_time__month=11&attempt_time__day=30"


@pytest.mark.parametrize(
    "query",
    [
        "attempt_time__year=99999999999999999999",  # no C integer holds it
        "attempt_time__year=9999",  # the year after it does not exist
        "attempt_time__year=9999&attempt_time__month=12",
        "attempt_time__year=9999&attempt_time__month=12&attempt_time__day=31",
        "attempt_time__year=2026&attempt_time__month=99999999999999999999",
        "attempt_time__year=2026&attempt_time__month=11&attempt_time__day=-1",
        "attempt_time__year=0",
        "attempt_time__day=99999999999999999999",  # a day alone is a lookup of its own
        "attempt_time__year=２０２６",  # digits, but not ASCII ones
    ],
)
@pytest.mark.parametrize("model", AXES_LISTS)
def test_the_login_lists_date_hierarchy_refuses_dates_out_of_range(
    admin_client: Client, model: str, query: str
) -> None:
    response = admin_client.get(f"/admin/axes/{model}/?{query}")
    assert response.status_code == 400, (model, query, response.status_code)


@pytest.mark.parametrize("query", ["attempt_time__year=2026", DAY])
@pytest.mark.parametrize("model", AXES_LISTS)
def test_the_login_lists_date_hierarchy_still_works(
    admin_client: Client, model: str, query: str
) -> None:
    assert admin_client.get(f"/admin/axes/{model}/?{query}").status_code == 200


def test_every_admin_over_ternadmins_models_declares_its_lookups() -> None:
    ours = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in {"applies", "axes"}
    ]
    assert ours and Apply in admin.site._registry
    for model_admin in ours:
        assert isinstance(model_admin, DeclaredLookupsOnly), type(model_admin).__name__
