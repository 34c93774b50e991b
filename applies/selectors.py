"""Read queries for the console. Views never build querysets of their own."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from applies import states
from applies.models import Apply


@dataclass(frozen=True)
class StateCount:
    state: states.StateInfo
    engine: str
    count: int


def state_counts() -> list[StateCount]:
    """Applies per (state, engine), registry order first and unknown states last."""
    rows = Apply.objects.values_list("state", "engine").annotate(n=Count("id")).order_by()
    order = {value: position for position, value in enumerate(states.APPLY_STATES)}
    counts = [StateCount(states.apply_state(state), engine, n) for state, engine, n in rows]
    return sorted(counts, key=lambda c: (order.get(c.state.value, len(order)), c.engine))
