"""Every SchemaBot state ternadmin knows, and how an apply in it gets recovered.

This is the one place state strings live (docs/schemabot.md, "States" and "What changed after
b2349ea"). Each apply/operation state has a *recovery story*:

- ``terminal``: done; nothing will claim it again.
- ``claimable_when_stale``: a driver works it; when the heartbeat goes stale the stale-active
  claim clause takes it over. The five PlanetScale setup phases are here (upstream #302).
- ``own_claim_path``: a dedicated clause claims it (queued ``pending``, ``failed_retryable``
  under budget, ``stopped`` with a start request).
- ``needs_human``: deliberately never auto-claimed (``paused``).

Task states follow their apply (``follows_apply``) or are terminal. A string read from the
database that is in no registry is *unknown*: it renders as such and is classified wedged; it
never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Story(StrEnum):
    TERMINAL = "terminal"
    CLAIMABLE_WHEN_STALE = "claimable_when_stale"
    OWN_CLAIM_PATH = "own_claim_path"
    NEEDS_HUMAN = "needs_human"
    FOLLOWS_APPLY = "follows_apply"
    UNKNOWN = "unknown"


class Badge(StrEnum):
    """CSS modifier of a state badge (``badge--<value>``)."""

    DONE = "done"
    FAILED = "failed"
    ACTIVE = "active"
    SETUP = "setup"
    WAITING = "waiting"
    RETRYING = "retrying"
    HALTED = "halted"
    UNKNOWN = "unknown"


class ApplyState(StrEnum):
    """Apply (and apply operation) states: SchemaBot b2349ea plus those HEAD added."""

    PENDING = "pending"
    PREPARING_BRANCH = "preparing_branch"
    APPLYING_BRANCH_CHANGES = "applying_branch_changes"
    VALIDATING_BRANCH = "validating_branch"
    CREATING_DEPLOY_REQUEST = "creating_deploy_request"
    VALIDATING_DEPLOY_REQUEST = "validating_deploy_request"
    WAITING_FOR_DEPLOY = "waiting_for_deploy"
    RUNNING = "running"
    RUNNING_DEGRADED = "running_degraded"
    RESUMING = "resuming"
    WAITING_FOR_CUTOVER = "waiting_for_cutover"
    RECOVERING = "recovering"
    RECOVERING_CUTOVER = "recovering_cutover"
    CUTTING_OVER = "cutting_over"
    REVERT_WINDOW = "revert_window"
    REVERTING = "reverting"
    SKIPPING_REVERT = "skipping_revert"
    FAILED_RETRYABLE = "failed_retryable"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    REVERTED = "reverted"


class TaskState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_FOR_DEPLOY = "waiting_for_deploy"
    WAITING_FOR_CUTOVER = "waiting_for_cutover"
    RECOVERING = "recovering"
    CUTTING_OVER = "cutting_over"
    REVERT_WINDOW = "revert_window"
    CHECKSUMMING = "checksumming"
    REVERTING = "reverting"
    FAILED_RETRYABLE = "failed_retryable"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"
    REVERTED = "reverted"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StateInfo:
    value: str
    label: str
    badge: Badge
    story: Story
    recovery: str  # the recovery story in one sentence, for people
    terminal: bool = False  # in SchemaBot's terminal set (SQL "active" = NOT IN these)
    setup_phase: bool = False  # one of the five PlanetScale setup phases
    # Waits for a person or a schedule with nothing to report (cutover, deploy, revert window):
    # an unchanged progress is expected there, not a sign of a hung driver.
    idles_by_design: bool = False
    known: bool = True

    @property
    def claimable_when_stale(self) -> bool:
        return self.story is Story.CLAIMABLE_WHEN_STALE


def _claimable(
    value: ApplyState, label: str, badge: Badge, *, setup: bool = False, idles: bool = False
) -> StateInfo:
    return StateInfo(
        value,
        label,
        badge,
        Story.CLAIMABLE_WHEN_STALE,
        "A driver works it; once its heartbeat is stale the stale-active clause reclaims it.",
        setup_phase=setup,
        idles_by_design=idles,
    )


def _terminal(value: ApplyState, label: str, badge: Badge, recovery: str) -> StateInfo:
    return StateInfo(value, label, badge, Story.TERMINAL, recovery, terminal=True)


_A = ApplyState
_APPLY_STATE_LIST: tuple[StateInfo, ...] = (
    StateInfo(
        _A.PENDING,
        "Pending",
        Badge.WAITING,
        Story.OWN_CLAIM_PATH,
        "Claimed by the queued clause once it has tasks or an operation, or by a pending "
        "start request.",
    ),
    _claimable(_A.PREPARING_BRANCH, "Preparing branch", Badge.SETUP, setup=True),
    _claimable(_A.APPLYING_BRANCH_CHANGES, "Applying branch changes", Badge.SETUP, setup=True),
    _claimable(_A.VALIDATING_BRANCH, "Validating branch", Badge.SETUP, setup=True),
    _claimable(_A.CREATING_DEPLOY_REQUEST, "Creating deploy request", Badge.SETUP, setup=True),
    _claimable(_A.VALIDATING_DEPLOY_REQUEST, "Validating deploy request", Badge.SETUP, setup=True),
    StateInfo(
        _A.WAITING_FOR_DEPLOY,
        "Waiting for deploy",
        Badge.WAITING,
        Story.CLAIMABLE_WHEN_STALE,
        "Reclaimed when stale; a pending start request also claims it to trigger the deploy.",
        idles_by_design=True,
    ),
    _claimable(_A.RUNNING, "Running", Badge.ACTIVE),
    _claimable(_A.RUNNING_DEGRADED, "Running (degraded)", Badge.ACTIVE),
    _claimable(_A.RESUMING, "Resuming", Badge.ACTIVE),
    _claimable(_A.WAITING_FOR_CUTOVER, "Waiting for cutover", Badge.WAITING, idles=True),
    _claimable(_A.RECOVERING, "Recovering", Badge.ACTIVE),
    _claimable(_A.RECOVERING_CUTOVER, "Recovering (legacy)", Badge.ACTIVE),
    _claimable(_A.CUTTING_OVER, "Cutting over", Badge.ACTIVE),
    _claimable(_A.REVERT_WINDOW, "Revert window", Badge.WAITING, idles=True),
    _claimable(_A.REVERTING, "Reverting", Badge.ACTIVE),
    _claimable(_A.SKIPPING_REVERT, "Skipping revert", Badge.ACTIVE),
    StateInfo(
        _A.FAILED_RETRYABLE,
        "Retrying",
        Badge.RETRYING,
        Story.OWN_CLAIM_PATH,
        "Claimed by the retry clause while under the retry budget and fresh; otherwise "
        "expired to failed.",
    ),
    StateInfo(
        _A.PAUSED,
        "Paused",
        Badge.HALTED,
        Story.NEEDS_HUMAN,
        "Paused by an on_failure=pause policy; never auto-claimed, waits for a person to "
        "release or stop it.",
    ),
    _terminal(_A.COMPLETED, "Completed", Badge.DONE, "Done."),
    _terminal(_A.FAILED, "Failed", Badge.FAILED, "Done; a person may reapply it."),
    StateInfo(
        _A.STOPPED,
        "Stopped",
        Badge.HALTED,
        Story.OWN_CLAIM_PATH,
        "Terminal until someone requests a start; then claimed under the target lock.",
        terminal=True,
    ),
    _terminal(_A.CANCELLED, "Cancelled", Badge.HALTED, "Done (a PlanetScale stop cancels)."),
    _terminal(_A.REVERTED, "Reverted", Badge.DONE, "Done; the change was reverted."),
)

_T = TaskState
_TASK_FOLLOWS = "Recovered with its apply: the apply's claim resumes it."
_TASK_STATE_LIST: tuple[StateInfo, ...] = (
    StateInfo(_T.PENDING, "Pending", Badge.WAITING, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(_T.RUNNING, "Running", Badge.ACTIVE, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(
        _T.WAITING_FOR_DEPLOY,
        "Waiting for deploy",
        Badge.WAITING,
        Story.FOLLOWS_APPLY,
        _TASK_FOLLOWS,
    ),
    StateInfo(
        _T.WAITING_FOR_CUTOVER,
        "Waiting for cutover",
        Badge.WAITING,
        Story.FOLLOWS_APPLY,
        _TASK_FOLLOWS,
    ),
    StateInfo(_T.RECOVERING, "Recovering", Badge.ACTIVE, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(_T.CUTTING_OVER, "Cutting over", Badge.ACTIVE, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(_T.REVERT_WINDOW, "Revert window", Badge.WAITING, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(_T.CHECKSUMMING, "Checksumming", Badge.ACTIVE, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(_T.REVERTING, "Reverting", Badge.ACTIVE, Story.FOLLOWS_APPLY, _TASK_FOLLOWS),
    StateInfo(
        _T.FAILED_RETRYABLE,
        "Retrying",
        Badge.RETRYING,
        Story.FOLLOWS_APPLY,
        "Requeued to pending when its apply's retry is claimed.",
    ),
    StateInfo(
        _T.STOPPED,
        "Stopped",
        Badge.HALTED,
        Story.FOLLOWS_APPLY,
        "Not terminal at task level: requeued when its apply is started again.",
    ),
    StateInfo(_T.COMPLETED, "Completed", Badge.DONE, Story.TERMINAL, "Done.", terminal=True),
    StateInfo(_T.FAILED, "Failed", Badge.FAILED, Story.TERMINAL, "Done.", terminal=True),
    StateInfo(_T.REVERTED, "Reverted", Badge.DONE, Story.TERMINAL, "Done.", terminal=True),
    StateInfo(_T.CANCELLED, "Cancelled", Badge.HALTED, Story.TERMINAL, "Done.", terminal=True),
)

# Operation rows use the same strings: SchemaBot's ApplyOperation state machine is the apply one.
APPLY_STATES: Mapping[str, StateInfo] = {info.value: info for info in _APPLY_STATE_LIST}
TASK_STATES: Mapping[str, StateInfo] = {info.value: info for info in _TASK_STATE_LIST}

TERMINAL_APPLY_STATES: tuple[str, ...] = tuple(s.value for s in _APPLY_STATE_LIST if s.terminal)
# The one claimable set: every claim path, the sweep and the console use this tuple.
CLAIMABLE_APPLY_STATES: tuple[str, ...] = tuple(
    s.value for s in _APPLY_STATE_LIST if s.claimable_when_stale
)
SETUP_PHASE_STATES: tuple[str, ...] = tuple(s.value for s in _APPLY_STATE_LIST if s.setup_phase)
ACTIVE_APPLY_STATES: tuple[str, ...] = tuple(s.value for s in _APPLY_STATE_LIST if not s.terminal)
TERMINAL_TASK_STATES: tuple[str, ...] = tuple(s.value for s in _TASK_STATE_LIST if s.terminal)


def _unknown(value: str) -> StateInfo:
    return StateInfo(
        value,
        f"Unknown ({value})" if value else "Unknown (empty)",
        Badge.UNKNOWN,
        Story.UNKNOWN,
        "Not a state ternadmin knows: no claim path covers it, so it is wedged.",
        known=False,
    )


def choices(registry: Mapping[str, StateInfo]) -> list[tuple[str, str]]:
    """``(value, label)`` of every state of a registry, in its order: for pickers and filters."""
    return [(info.value, info.label) for info in registry.values()]


def apply_state(value: str | None) -> StateInfo:
    """The registry entry for an apply or operation state; unknown strings never raise."""
    return APPLY_STATES.get(value or "") or _unknown(value or "")


def task_state(value: str | None) -> StateInfo:
    return TASK_STATES.get(value or "") or _unknown(value or "")
