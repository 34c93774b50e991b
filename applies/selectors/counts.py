"""Applies per state and engine, without counting the whole table.

Finished applies pile up forever, so nothing here groups or counts the table:

- unfinished states (few rows, unknown strings included): counted exactly, per engine, from
  the set ``classify.live`` reads anyway;
- terminal states: counted up to a cap, each through a ``LIMIT``-ed range of
  ``idx_state_created_id``, and shown as "1,000+" past it; the page says which numbers are
  exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Max

from applies import db, states
from applies.classify import Classification, live
from applies.models import Apply
from applies.states import StateInfo
from applies.vocabulary import Engine

# Each finished state is counted through at most this many index entries (about 1 ms at a
# million applies; 10,000 would cost ten times that for a number nobody acts on).
TERMINAL_COUNT_CAP = 1_000


@dataclass(frozen=True)
class StateRow:
    state: StateInfo
    total: int
    exact: bool  # False: there are more than ``total`` (the cap)
    by_engine: dict[str, int] = field(default_factory=dict)  # exact counts; active states only
    cells: tuple[int, ...] = ()  # ``by_engine`` in the order of ``StateCounts.engines``

    @property
    def shown(self) -> str:
        return f"{self.total:,}" if self.exact else f"{self.total:,}+"


@dataclass(frozen=True)
class StateCounts:
    rows: list[StateRow]
    engines: list[str]
    cap: int
    highest_id: int  # an upper bound of how many applies were ever created


def _exact_by_engine(found: Sequence[Classification]) -> dict[str, dict[str, int]]:
    """Unfinished applies per state and engine, counted from the live set."""
    counts: dict[str, dict[str, int]] = {}
    for item in found:
        if states.apply_state(item.state).terminal:
            continue  # a stopped apply with a start request: counted with the finished ones
        per_engine = counts.setdefault(item.state, {})
        per_engine[item.engine] = per_engine.get(item.engine, 0) + 1
    return counts


def _capped(values: Sequence[str], cap: int) -> dict[str, int]:
    """``min(count, cap + 1)`` per state, in one statement of LIMIT-ed index ranges."""
    parts, params = [], []
    for n, value in enumerate(values):
        parts.append(
            f"SELECT %s, COUNT(*) FROM (SELECT 1 AS one FROM applies WHERE state = %s"
            f" LIMIT {int(cap) + 1}) capped{n}"
        )
        params += [value, value]
    rows = db.fetchall(" UNION ALL ".join(parts), params)
    return {str(state): int(count) for state, count in rows}


def _order(value: str) -> tuple[int, str]:
    position = list(states.APPLY_STATES).index(value) if value in states.APPLY_STATES else 999
    return position, value


def _engines(exact: dict[str, dict[str, int]]) -> list[str]:
    seen = {engine for counts in exact.values() for engine in counts}
    known = [engine.value for engine in Engine if engine.value in seen]
    return known + sorted(seen - set(known))


def state_counts(
    cap: int = TERMINAL_COUNT_CAP, found: Sequence[Classification] | None = None
) -> StateCounts:
    """Applies per state (registry order, unknown states last) and, for unfinished states,
    per engine. ``found`` is ``classify.live()`` when the caller has it already."""
    exact = _exact_by_engine(live() if found is None else found)
    capped = _capped(states.TERMINAL_APPLY_STATES, cap)
    engines = _engines(exact)
    rows = [
        StateRow(
            states.apply_state(value),
            sum(per_engine.values()),
            True,
            per_engine,
            tuple(per_engine.get(engine, 0) for engine in engines),
        )
        for value, per_engine in exact.items()
    ]
    rows += [
        StateRow(states.apply_state(value), min(count, cap), count <= cap)
        for value, count in capped.items()
        if count
    ]
    rows.sort(key=lambda row: _order(row.state.value))
    highest = Apply.objects.aggregate(highest=Max("id"))["highest"] or 0
    return StateCounts(rows, engines, cap, int(highest))
