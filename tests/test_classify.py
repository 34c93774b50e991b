"""classify(): which clause takes an apply, when, or why none ever will."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from applies import states
from applies.classify import Verdict, classify, live
from applies.clauses import Clause
from applies.dbclock import SecondsAgo
from applies.models import ApplyControlRequest
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply
from tests.factories import ApplyOperationFactory

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])


@pytest.mark.parametrize("state", states.SETUP_PHASE_STATES)
def test_stale_setup_phase_is_claimable_now_with_words(state: str) -> None:
    apply = make_apply(state, age=200)
    c = classify(apply)
    assert (c.classification, c.clause) == (Verdict.CLAIMABLE_NOW, Clause.STALE_ACTIVE)
    # The database clock may tick a second between writing the heartbeat and reading it.
    assert c.reason in {
        f"Stale for 3m{s}s in {state} → the stale-active clause will claim it." for s in (20, 21)
    }
    assert (c.claimed_by, c.unclaimed_alarm) == ("ternadmin", False)


def test_fresh_active_is_healthy_and_says_when_it_would_be_claimable() -> None:
    c = classify(make_apply(ApplyState.RUNNING, age=20))
    assert c.classification is Verdict.HEALTHY and c.clause is None
    assert c.claimable_in_seconds is not None and 38 <= c.claimable_in_seconds <= 40


@pytest.mark.parametrize(
    ("state", "fields", "verdict"),
    [
        (ApplyState.PAUSED, {}, Verdict.NEEDS_HUMAN),
        (ApplyState.FAILED_RETRYABLE, {"attempt": 10}, Verdict.NEEDS_HUMAN),
        ("teleporting", {}, Verdict.WEDGED),
        (ApplyState.COMPLETED, {}, Verdict.TERMINAL),
        (ApplyState.STOPPED, {}, Verdict.TERMINAL),
    ],
)
def test_verdicts_of_unclaimable_applies(state: str, fields: dict, verdict: Verdict) -> None:
    c = classify(make_apply(state, age=STALE, **fields))
    assert (c.classification, c.clause) == (verdict, None)
    assert c.reason


def test_bare_pending_is_being_created_then_wedged() -> None:
    assert classify(make_apply("pending", age=FRESH, tasks=0, operation=False)).classification is (
        Verdict.HEALTHY
    )
    wedged = classify(make_apply("pending", age=STALE, tasks=0, operation=False))
    assert wedged.classification is Verdict.WEDGED
    assert "no tasks, no operation and no start request" in wedged.reason


def test_live_lists_non_terminal_and_startable_stopped_applies_only() -> None:
    running = make_apply(ApplyState.RUNNING)
    make_apply(ApplyState.COMPLETED)
    make_apply(ApplyState.STOPPED)
    startable = make_apply(ApplyState.STOPPED, start_request="pending")

    ids = [c.apply_id for c in live()]

    assert ids == [running.pk, startable.pk]


def test_classify_command_json() -> None:
    apply = make_apply(ApplyState.CREATING_DEPLOY_REQUEST)
    make_apply(ApplyState.COMPLETED)
    out = StringIO()

    call_command("classify", "--json", stdout=out)

    rows = json.loads(out.getvalue())
    assert len(rows) == 1
    row = rows[0]
    assert row["apply_id"] == apply.pk
    assert row["apply_identifier"] == apply.apply_identifier
    assert (row["state"], row["engine"]) == ("creating_deploy_request", "planetscale")
    assert (row["classification"], row["clause"]) == ("claimable_now", "stale_active")
    assert row["reason"].startswith("Stale for 2m")


# --- applies ternadmin does not drive, and SchemaBot's operator not claiming ---------------------


def test_a_stale_spirit_apply_is_left_to_schemabots_operator_in_words() -> None:
    apply = make_apply(ApplyState.RUNNING, age=90, engine="spirit", database_type="mysql")
    c = classify(apply)
    assert (c.classification, c.clause, c.claimed_by) == (
        Verdict.CLAIMABLE_NOW,
        Clause.STALE_ACTIVE,
        "schemabot",
    )
    assert c.reason in {
        f"Stale for 1m{s}s in running → SchemaBot's own operator claims it (ternadmin does not "
        "drive spirit)."
        for s in (30, 31)
    }
    assert "claim clause takes it" not in c.reason and not c.unclaimed_alarm


def test_a_multi_operation_apply_is_left_to_schemabots_operator() -> None:
    apply = make_apply(ApplyState.RUNNING, age=90)
    ApplyOperationFactory(apply=apply, deployment="west", state=ApplyState.RUNNING)
    c = classify(apply)
    assert c.claimed_by == "schemabot"
    assert c.reason.endswith(
        "SchemaBot's own operator claims it (ternadmin does not drive multi-operation applies)."
    )


def test_classify_command_json_says_who_claims(settings: Any) -> None:
    make_apply(ApplyState.RUNNING, age=90, engine="spirit", database_type="mysql")
    out = StringIO()
    call_command("classify", "--json", stdout=out)
    [row] = json.loads(out.getvalue())
    assert "SchemaBot's own operator claims it (ternadmin does not drive spirit)" in row["reason"]
    assert (row["claimed_by"], row["unclaimed_alarm"]) == ("schemabot", False)


@pytest.mark.parametrize("engine", ["spirit", "planetscale"])
def test_claimable_for_longer_than_the_alarm_says_schemabots_operator_is_not_claiming(
    settings: Any, engine: str
) -> None:
    settings.TERNADMIN_UNCLAIMED_ALARM_INTERVALS = 2
    settings.TERNADMIN_SWEEP_INTERVAL_SECONDS = 60
    # Claimable since its heartbeat crossed the 60 s window: 70 s ago, then 130 s ago.
    within = classify(make_apply(ApplyState.RUNNING, age=130, engine=engine))
    beyond = classify(make_apply(ApplyState.RUNNING, age=190, engine=engine))
    assert not within.unclaimed_alarm
    assert beyond.unclaimed_alarm
    assert beyond.reason.endswith("and still unclaimed: SchemaBot's operator is not claiming.")


def test_a_start_request_counts_from_the_request_not_from_the_stop(settings: Any) -> None:
    settings.TERNADMIN_UNCLAIMED_ALARM_INTERVALS = 1
    stopped = make_apply(ApplyState.STOPPED, age=5 * 86_400, start_request="pending")
    c = classify(stopped)
    assert c.clause is Clause.STOPPED_START and not c.unclaimed_alarm
    ApplyControlRequest.objects.filter(apply_id=stopped.pk).update(updated_at=SecondsAgo(600))
    assert classify(stopped).unclaimed_alarm


def test_a_state_the_configured_line_does_not_know_is_wedged(settings: Any) -> None:
    settings.TERNADMIN_SCHEMABOT_LINE = "b2349ea"
    c = classify(make_apply(ApplyState.REVERTING, age=FRESH))
    assert c.classification is Verdict.WEDGED and c.clause is None
    assert "not one SchemaBot b2349ea (PR #265) knows" in c.reason
    settings.TERNADMIN_SCHEMABOT_LINE = "current"
    assert classify(make_apply(ApplyState.REVERTING, age=FRESH)).classification is Verdict.HEALTHY
