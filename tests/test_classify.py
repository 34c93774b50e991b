"""classify(): which clause takes an apply, when, or why none ever will."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from applies import states
from applies.classify import Verdict, classify, duration, live
from applies.clauses import Clause
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, STALE, make_apply

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])


@pytest.mark.parametrize("state", states.SETUP_PHASE_STATES)
def test_stale_setup_phase_is_claimable_now_with_words(state: str) -> None:
    apply = make_apply(state, age=252)
    c = classify(apply)
    assert (c.classification, c.clause) == (Verdict.CLAIMABLE_NOW, Clause.STALE_ACTIVE)
    # The database clock may tick a second between writing the heartbeat and reading it.
    assert c.reason in {
        f"Stale for 4m{s}s in {state} → the stale-active clause will claim it." for s in (12, 13)
    }


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


def test_duration_words() -> None:
    assert [duration(s) for s in (0, 59, 252, 3600 * 5 + 61, 90_061)] == [
        "0s",
        "59s",
        "4m12s",
        "5h1m",
        "1d1h",
    ]
