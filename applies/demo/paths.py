"""The states an apply went through to reach its own, when it entered each, and the state its
tasks are in."""

from __future__ import annotations

import random

from applies.demo.catalogue import SIBLING_TASK_STATE, TASK_STATE, Kind
from applies.demo.shapes import Spec
from applies.states import SETUP_PHASE_STATES, ApplyState, TaskState
from applies.vocabulary import Engine

A = ApplyState


def happy_path(engine: Engine, options: dict[str, object]) -> list[str]:
    """The states an apply passes through when nothing goes wrong (docs/schemabot.md, "States")."""
    path: list[str] = [A.PENDING]
    if engine == Engine.PLANETSCALE:
        path += SETUP_PHASE_STATES  # the registry lists them in the order SchemaBot emits them
        if options.get("defer_deploy"):
            path.append(A.WAITING_FOR_DEPLOY)
    path.append(A.RUNNING)
    if options.get("defer_cutover"):
        path.append(A.WAITING_FOR_CUTOVER)
    path.append(A.CUTTING_OVER)
    if engine == Engine.PLANETSCALE and not options.get("skip_revert"):
        path.append(A.REVERT_WINDOW)
    return [*path, A.COMPLETED]


def path_to(
    rng: random.Random, state: str, engine: Engine, options: dict[str, object]
) -> list[str]:
    """The states an apply now in ``state`` went through, starting with ``pending``."""
    happy = happy_path(engine, options)
    if state in happy:
        return happy[: happy.index(state) + 1]
    if state in (A.REVERTED, A.RECOVERING):
        before = A.REVERT_WINDOW if state == A.REVERTED else A.WAITING_FOR_CUTOVER
        return [*happy[: happy.index(before) + 1], state]
    # It went wrong somewhere along the happy path. A PlanetScale stop cancels a deploy
    # request, so it has one; a Spirit stop, a pause or an unknown state came after start.
    earliest = A.VALIDATING_DEPLOY_REQUEST if state == A.CANCELLED else A.RUNNING
    low = 1 if state in (A.FAILED, A.FAILED_RETRYABLE) else happy.index(earliest)
    return [*happy[: rng.randint(low, len(happy) - 2) + 1], state]


def path_agos(spec: Spec, steps: int) -> list[int]:
    """When (seconds ago) the apply entered each of its ``steps`` states."""
    # Creation, then the transitions spread evenly from the start to the last write; a
    # driver that still heartbeats entered its state well before its latest heartbeat.
    begin = spec.created_ago if spec.started_ago is None else spec.started_ago
    end = spec.updated_ago
    if spec.kind in (Kind.FRESH, Kind.STALE):
        end += (begin - end) // 4
    span, parts = begin - end, max(steps - 2, 1)
    return [spec.created_ago] + [begin - span * k // parts for k in range(steps - 1)]


def task_state(apply_state: str, position: int) -> TaskState:
    """The state of the apply's task at ``position`` (0 is the first)."""
    # An apply state we do not know still has tasks that were running when it was written.
    state = TASK_STATE.get(apply_state, TaskState.RUNNING)
    return SIBLING_TASK_STATE.get(state, state) if position else state
