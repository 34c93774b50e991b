"""The SchemaBot line setting: what each line knows, and settings that cannot make ternadmin
fight the SchemaBot it runs beside."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from applies import states
from applies.checks import check_schemabot_windows
from applies.lines import B2349EA, CURRENT, LINES, claims_operations, current_line
from applies.states import ApplyState
from ternadmin import config
from tests.helpers import clean_environ, run_python

A = ApplyState


def test_the_setting_and_the_lines_agree() -> None:
    assert set(LINES) == set(config.SCHEMABOT_LINES)


def test_each_line_knows_its_states() -> None:
    head_only = {A.RUNNING_DEGRADED, A.RESUMING, A.PAUSED, A.SKIPPING_REVERT, A.REVERTING}
    assert set(CURRENT.apply_states) == set(states.APPLY_STATES)
    assert set(B2349EA.apply_states) == set(states.APPLY_STATES) - head_only
    assert len(B2349EA.claimable_states) == 12 and len(CURRENT.claimable_states) == 16
    assert set(B2349EA.claimable_states) <= B2349EA.apply_states
    # Every state a line writes for a claim is one it knows.
    for line in LINES.values():
        assert line.knows(line.stopped_apply_claim_state)
        assert line.stopped_operation_claim_state in (None, *line.apply_states)


@pytest.mark.parametrize(
    ("state", "b2349ea"),
    [
        (A.RESUMING, A.RUNNING),
        (A.RUNNING_DEGRADED, A.RUNNING),
        (A.REVERTING, A.RUNNING),
        (A.SKIPPING_REVERT, A.REVERT_WINDOW),
        (A.CANCELLED, A.CANCELLED),
    ],
)
def test_the_state_each_line_calls_it(state: str, b2349ea: str) -> None:
    assert B2349EA.spelling(state) == b2349ea
    assert CURRENT.spelling(state) == state


def test_current_upstream_is_the_default(settings: Any) -> None:
    del settings.TERNADMIN_SCHEMABOT_LINE
    assert current_line() is CURRENT


def test_a_bad_line_value_is_one_line_naming_the_setting() -> None:
    result = run_python(
        "manage.py", "check", env=clean_environ(TERNADMIN_DEMO="1", TERNADMIN_SCHEMABOT_LINE="head")
    )
    assert result.returncode != 0
    assert "TERNADMIN_SCHEMABOT_LINE='head' must be one of: b2349ea, current." in result.stderr


# --- settings that cannot make ternadmin fight SchemaBot --------------------------------------


@pytest.mark.parametrize("stale_after", [1, 10, 19])
def test_a_staleness_window_under_two_heartbeats_is_refused_outside_the_demo(
    stale_after: int,
) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"TERNADMIN_STALE_AFTER_SECONDS={stale_after} "):
        config.refuse_short_staleness(stale_after, demo=False)
    config.refuse_short_staleness(stale_after, demo=True)  # the demo and the tests may
    config.refuse_short_staleness(20, demo=False)


def test_production_settings_refuse_a_short_window_at_start() -> None:
    env = clean_environ(
        TERNADMIN_SECRET_KEY="k" * 60,
        TERNADMIN_ALLOWED_HOSTS="ternadmin.internal",
        TERNADMIN_STALE_AFTER_SECONDS="15",
        TERNADMIN_DEMO="0",
    )
    result = run_python("manage.py", "check", env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "TERNADMIN_STALE_AFTER_SECONDS" in line]
    assert lines and lines[-1].endswith(
        "TERNADMIN_STALE_AFTER_SECONDS=15 is below 20 s (twice SchemaBot's 10 s heartbeat): "
        "live SchemaBot drivers would look dead."
    )


def test_windows_like_schemabots_raise_no_warning() -> None:
    assert check_schemabot_windows() == []


@pytest.mark.parametrize(
    ("name", "value", "upstream"),
    [
        ("TERNADMIN_STALE_AFTER_SECONDS", 90, 60),
        ("TERNADMIN_RETRY_BUDGET", 3, 10),
        ("TERNADMIN_RETRY_FRESHNESS_SECONDS", 3600, 86_400),
    ],
)
def test_a_window_unlike_schemabots_is_a_warning_naming_the_difference(
    settings: Any, name: str, value: int, upstream: int
) -> None:
    setattr(settings, name, value)
    [warning] = check_schemabot_windows()
    assert warning.id == "ternadmin.W013"
    assert warning.msg.startswith(f"{name}={value} differs from SchemaBot's {upstream}: ")


def test_claims_take_operation_rows_first_as_the_lines_operator_does_by_default(
    settings: Any,
) -> None:
    settings.TERNADMIN_CLAIM_OPERATIONS = None
    for name, default in (("current", True), ("b2349ea", False)):  # #431 made it the default
        settings.TERNADMIN_SCHEMABOT_LINE = name
        assert claims_operations() is default
        for chosen in (True, False):
            settings.TERNADMIN_CLAIM_OPERATIONS = chosen
            assert claims_operations() is chosen
        settings.TERNADMIN_CLAIM_OPERATIONS = None
