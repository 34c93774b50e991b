"""LocalScale's clock and deploy-request state machine, advanced lazily when a request is read.

No background thread: a deploy request stores the state and when it entered it; reading it
applies every transition that has come due since, each at the moment it was due. The clock is
the emulator's own (a fake remote service), not the database's: real time plus an offset an
admin call can move forward, with every duration divided by the time scale.

The states are PlanetScale's documented ``deployment_state`` values; the emulator keeps its own
list rather than the client's, so the two are checked against each other by the contract test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from localscale import deploys_effects
from localscale.clock import Reading
from localscale.models import DeployRequest

PENDING = "pending"
READY = "ready"
NO_CHANGES = "no_changes"
ERROR = "error"
SUBMITTING = "submitting"
QUEUED = "queued"
IN_PROGRESS = "in_progress"
PENDING_CUTOVER = "pending_cutover"
IN_PROGRESS_CUTOVER = "in_progress_cutover"
COMPLETE_PENDING_REVERT = "complete_pending_revert"
COMPLETE = "complete"
COMPLETE_ERROR = "complete_error"
IN_PROGRESS_REVERT = "in_progress_revert"
COMPLETE_REVERT = "complete_revert"
IN_PROGRESS_CANCEL = "in_progress_cancel"
COMPLETE_CANCEL = "complete_cancel"

# A deploy request in one of these is closed: it is no longer its branch's open request.
CLOSED_STATES: frozenset[str] = frozenset(
    {COMPLETE, COMPLETE_ERROR, COMPLETE_CANCEL, COMPLETE_REVERT, ERROR}
)

# Durations at time scale 1, in seconds.
VALIDATION_SECONDS = 2.0  # pending → ready / no_changes / error
SUBMIT_SECONDS = 1.0  # submitting → in_progress
DEPLOY_SECONDS = 3.0  # in_progress → pending_cutover / complete_pending_revert
CUTOVER_SECONDS = 2.0  # in_progress_cutover → complete_pending_revert
REVERT_WINDOW_SECONDS = 30 * 60.0  # complete_pending_revert → complete
REVERT_SECONDS = 3.0  # in_progress_revert → complete_revert
CANCEL_SECONDS = 1.0  # in_progress_cancel → complete_cancel

# A deploy in one of these occupies its database: only one at a time (LocalScale's rule).
IN_FLIGHT_STATES: frozenset[str] = frozenset(
    {
        SUBMITTING,
        QUEUED,
        IN_PROGRESS,
        PENDING_CUTOVER,
        IN_PROGRESS_CUTOVER,
        IN_PROGRESS_REVERT,
        IN_PROGRESS_CANCEL,
    }
)


def is_open(state: str) -> bool:
    return state not in CLOSED_STATES


def has_changes(dr: DeployRequest) -> bool:
    return any(dr.diff.values()) or bool(dr.vschema_diff)


def _validated(dr: DeployRequest) -> str:
    if dr.forced_error:
        return ERROR
    return READY if has_changes(dr) else NO_CHANGES


def _deployed(dr: DeployRequest) -> str:
    return COMPLETE_PENDING_REVERT if dr.auto_cutover else PENDING_CUTOVER


def _constant(state: str) -> Callable[[DeployRequest], str]:
    return lambda dr: state


_TIMED: Mapping[str, tuple[float, Callable[[DeployRequest], str]]] = {
    PENDING: (VALIDATION_SECONDS, _validated),
    SUBMITTING: (SUBMIT_SECONDS, _constant(IN_PROGRESS)),
    IN_PROGRESS: (DEPLOY_SECONDS, _deployed),
    IN_PROGRESS_CUTOVER: (CUTOVER_SECONDS, _constant(COMPLETE_PENDING_REVERT)),
    COMPLETE_PENDING_REVERT: (REVERT_WINDOW_SECONDS, _constant(COMPLETE)),
    IN_PROGRESS_REVERT: (REVERT_SECONDS, _constant(COMPLETE_REVERT)),
    IN_PROGRESS_CANCEL: (CANCEL_SECONDS, _constant(COMPLETE_CANCEL)),
}


def advance(dr: DeployRequest, reading: Reading) -> None:
    """Apply every transition of ``dr`` that has come due, and save it if any did."""
    changed = False
    while dr.state in _TIMED:
        seconds, next_state = _TIMED[dr.state]
        due = reading.after(dr.state_entered_at, seconds)
        if reading.now < due:
            break
        enter(dr, next_state(dr), due)
        changed = True
    if changed:
        dr.save()


def enter(dr: DeployRequest, state: str, at: datetime) -> None:
    """Move ``dr`` into ``state`` (unsaved), with the state's effect on the databases. An effect
    that fails moves the request to ``complete_error`` instead, with the reason."""
    dr.state = state
    dr.state_entered_at = at
    effect = _EFFECTS.get(state)
    if effect is None:
        return
    failure = effect(dr)
    if failure:
        dr.state = COMPLETE_ERROR
        dr.error_message = failure


_EFFECTS: Mapping[str, Callable[[DeployRequest], str | None]] = {
    COMPLETE_PENDING_REVERT: deploys_effects.deploy_into_main,
    COMPLETE_REVERT: deploys_effects.revert_main,
    COMPLETE: deploys_effects.close_window,
}
