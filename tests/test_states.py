from __future__ import annotations

import pytest

from applies import states
from applies.states import ApplyState, Story, TaskState

# Current upstream's claimableApplyStates (docs/schemabot.md, "States"): the b2349ea twelve,
# including the five PlanetScale setup phases (#302), plus the states later found wedged.
UPSTREAM_CLAIMABLE = {
    "running",
    "running_degraded",
    "resuming",
    "waiting_for_deploy",
    "waiting_for_cutover",
    "recovering",
    "recovering_cutover",
    "cutting_over",
    "revert_window",
    "reverting",
    "skipping_revert",
    "preparing_branch",
    "applying_branch_changes",
    "validating_branch",
    "creating_deploy_request",
    "validating_deploy_request",
}
SETUP_PHASES = (
    "preparing_branch",
    "applying_branch_changes",
    "validating_branch",
    "creating_deploy_request",
    "validating_deploy_request",
)


@pytest.mark.parametrize("state", list(ApplyState), ids=str)
def test_every_apply_state_has_a_recovery_story(state: ApplyState) -> None:
    info = states.APPLY_STATES[state]
    assert info.known and info.label and info.recovery
    assert info.story in {
        Story.TERMINAL,
        Story.CLAIMABLE_WHEN_STALE,
        Story.OWN_CLAIM_PATH,
        Story.NEEDS_HUMAN,
    }
    # Upstream's invariant (#770): a non-terminal state is claimable or has its own path,
    # unless it deliberately waits for a person.
    if not info.terminal:
        assert info.story is not Story.TERMINAL


@pytest.mark.parametrize("state", list(TaskState), ids=str)
def test_every_task_state_has_a_recovery_story(state: TaskState) -> None:
    info = states.TASK_STATES[state]
    assert info.known and info.label and info.recovery
    assert info.story in {Story.TERMINAL, Story.FOLLOWS_APPLY}
    assert (info.story is Story.TERMINAL) == info.terminal


def test_registries_cover_exactly_the_enums() -> None:
    assert set(states.APPLY_STATES) == {s.value for s in ApplyState}
    assert set(states.TASK_STATES) == {s.value for s in TaskState}


def test_claimable_set_is_upstreams_and_holds_the_setup_phases() -> None:
    assert set(states.CLAIMABLE_APPLY_STATES) == UPSTREAM_CLAIMABLE
    assert len(states.CLAIMABLE_APPLY_STATES) == 16
    assert states.SETUP_PHASE_STATES == SETUP_PHASES
    assert set(SETUP_PHASES) <= set(states.CLAIMABLE_APPLY_STATES)


def test_terminal_sets_match_schemabot() -> None:
    assert set(states.TERMINAL_APPLY_STATES) == {
        "completed",
        "failed",
        "stopped",
        "cancelled",
        "reverted",
    }
    assert set(states.TERMINAL_TASK_STATES) == {"completed", "failed", "reverted", "cancelled"}
    assert not states.task_state("stopped").terminal  # resumable at task level


def test_own_paths_and_human_states() -> None:
    own = {s for s, info in states.APPLY_STATES.items() if info.story is Story.OWN_CLAIM_PATH}
    assert own == {"pending", "failed_retryable", "stopped"}
    assert states.apply_state("paused").story is Story.NEEDS_HUMAN
    assert "paused" not in states.CLAIMABLE_APPLY_STATES


@pytest.mark.parametrize("value", ["migrating", "RUNNING", "", None, "state_running"])
def test_unknown_strings_are_unknown_never_an_error(value: str | None) -> None:
    info = states.apply_state(value)
    assert not info.known
    assert info.story is Story.UNKNOWN
    assert info.label.startswith("Unknown")
    assert not info.terminal and not info.claimable_when_stale
    assert states.task_state(value).story is Story.UNKNOWN
