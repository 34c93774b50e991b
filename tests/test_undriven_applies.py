"""The console tells the truth about applies ternadmin does not drive, and raises an alarm when
SchemaBot's operator leaves a claimable apply alone: on the dashboard, in the API (through the
classification) and in ``/metrics``."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.test import Client

from applies import selectors
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import make_apply, rollout
from tests.console_fixtures import client_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
LEFT_TO_SCHEMABOT = "SchemaBot's own operator claims it (ternadmin does not drive spirit)"
ALARM = "SchemaBot's operator is not claiming"


@pytest.fixture
def alarm_after_one_interval(settings: Any) -> None:
    settings.TERNADMIN_UNCLAIMED_ALARM_INTERVALS = 1
    settings.TERNADMIN_SWEEP_INTERVAL_SECONDS = 60


def spirit_apply(age: int) -> Any:
    return make_apply(A.RUNNING, age=age, engine="spirit", database_type="mysql")


def test_the_dashboard_says_who_claims_an_undriven_apply(alarm_after_one_interval: None) -> None:
    spirit = spirit_apply(90)  # claimable for 30 s: SchemaBot's operator has time yet
    ours = make_apply(A.VALIDATING_BRANCH, age=90)

    board = selectors.dashboard()
    page = unescape(client_for(Role.VIEWER).get("/").content.decode())

    reasons = {item.apply.pk: item.classification.reason for item in board.stuck}
    assert LEFT_TO_SCHEMABOT in reasons[spirit.pk]
    assert "the stale-active clause will claim it" in reasons[ours.pk]
    assert "claim clause takes it on the next pass" not in page
    assert LEFT_TO_SCHEMABOT in page
    assert board.unclaimed == [] and ALARM not in page


def test_an_apply_left_claimable_too_long_raises_the_alarm(alarm_after_one_interval: None) -> None:
    left = spirit_apply(130)  # claimable for 70 s > one 60 s sweep interval
    spirit_apply(90)

    board = selectors.dashboard()
    page = unescape(client_for(Role.VIEWER).get("/").content.decode())

    assert [item.apply.pk for item in board.unclaimed] == [left.pk]
    assert 'id="schemabot-not-claiming"' in page and f"{ALARM}." in page
    assert "1 apply has been claimable for longer than 1m (1 sweep interval)" in page


def test_the_api_says_it_through_the_classification(alarm_after_one_interval: None) -> None:
    left = spirit_apply(130)
    client = client_for(Role.VIEWER)

    verdict = client.get(f"/api/v1/applies/{left.pk}/classification").json()
    board = client.get("/api/v1/dashboard").json()

    assert LEFT_TO_SCHEMABOT in verdict["reason"] and ALARM in verdict["reason"]
    assert (verdict["claimed_by"], verdict["unclaimed_alarm"]) == ("schemabot", True)
    [stuck] = board["stuck"]
    assert stuck["classification"]["unclaimed_alarm"] is True


def test_metrics_raise_the_alarm(alarm_after_one_interval: None) -> None:
    spirit_apply(90)
    body = Client().get("/metrics").content.decode()
    assert "ternadmin_schemabot_not_claiming 0.0" in body

    spirit_apply(130)
    make_apply(A.RUNNING, age=130)  # one ternadmin drives too: its sweep is not claiming either
    body = Client().get("/metrics").content.decode()
    assert "ternadmin_schemabot_not_claiming 1.0" in body
    assert 'ternadmin_schemabot_unclaimed_applies{claimed_by="schemabot"} 1.0' in body
    assert 'ternadmin_schemabot_unclaimed_applies{claimed_by="ternadmin"} 1.0' in body


def test_the_apply_page_says_which_operation_claim_takes_each_row(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    apply, (done, parked, pending) = rollout(
        A.COMPLETED, A.WAITING_FOR_CUTOVER, A.PENDING, policy="barrier"
    )
    client = client_for(Role.VIEWER)

    detail = selectors.apply_detail(apply.pk)
    body = client.get(f"/api/v1/applies/{apply.pk}").json()

    assert detail is not None
    clauses = {op.pk: getattr(op, "claim_clause", "unset") for op in detail.operations}
    # SchemaBot's operator cuts the parked row over next; the pending one may start copying.
    assert clauses == {done.pk: None, parked.pk: "cutover_start", pending.pk: "deployment_order"}
    assert [op["claim_clause"] for op in body["operations"]] == [
        None,
        "cutover_start",
        "deployment_order",
    ]
    page = client.get(f"/applies/{apply.pk}/").content.decode()
    assert "<code>cutover_start</code>" in page
