"""What the operator saw, in each form pages carry it (applies.services.seen)."""

from __future__ import annotations

import pytest
from django.test import Client

from applies.roles import Role
from applies.services.seen import ReclaimItem, Seen
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, make_apply
from tests.console_fixtures import DRIVER_TOKEN, client_for, give_lease

A = ApplyState


def test_the_token_is_kept_short_and_an_absent_lease_stays_empty() -> None:
    assert Seen("running", DRIVER_TOKEN).token == DRIVER_TOKEN[:8]
    assert Seen("pending", "").token == ""
    assert Seen("pending", "").query() == "state=pending&token="


def test_a_bulk_item_reads_back_what_was_written() -> None:
    for seen in (Seen("pending", ""), Seen("running", DRIVER_TOKEN), Seen("a:b", "c")):
        item = ReclaimItem(42, seen)
        assert ReclaimItem.decode(item.encode()) == item
    assert ReclaimItem(7, Seen("pending", "")).encode() == "7:pending:"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "pending",
        "0:pending:",
        "x:pending:",
        f"{2**63}:running:",
        "1:" + "s" * 101 + ":",
        "1:\x00:",
    ],
)
def test_a_bulk_item_that_cannot_be_read_is_none(value: str) -> None:
    assert ReclaimItem.decode(value) is None


@pytest.mark.django_db(databases=["default", "schemabot"])
def test_the_dashboard_sends_an_empty_token_for_an_apply_without_a_lease() -> None:
    queued = make_apply(A.PENDING, age=FRESH)
    stale = give_lease(make_apply(A.CREATING_DEPLOY_REQUEST), 120)
    html = client_for(Role.OPERATOR).get("/").content.decode()
    assert f'value="{queued.pk}:pending:"' in html
    assert f'/applies/{queued.pk}/reclaim?state=pending&amp;token="' in html
    assert f'value="{stale.pk}:creating_deploy_request:{DRIVER_TOKEN[:8]}"' in html
    assert "token=%E2%80%94" not in html and ":—" not in html  # the display dash never goes back


@pytest.mark.django_db(databases=["default", "schemabot"])
def test_its_confirmation_page_does_not_call_it_changed() -> None:
    queued = make_apply(A.PENDING, age=FRESH)
    operator: Client = client_for(Role.OPERATOR)
    html = operator.get(f"/applies/{queued.pk}/reclaim?state=pending&token=").content.decode()
    assert "changed since you loaded its page" not in html
    assert '<input type="hidden" name="seen_token" id="id_seen_token">' in html  # empty
