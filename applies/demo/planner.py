"""Which applies to generate: their states, targets, kinds and timings (as :class:`Spec`).

History first (finished applies spread over years), then the recent tail: every special case,
more applies in flight, and some just finished.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from applies.demo.catalogue import (
    ACTIVE_MIX,
    PLANETSCALE_ONLY,
    SPECIAL_CASES,
    TERMINAL_MIX,
    Kind,
)
from applies.demo.clock import DAY, HOUR, MINUTE
from applies.demo.shapes import Spec, Target
from applies.states import TERMINAL_APPLY_STATES, ApplyState
from applies.vocabulary import Engine
from applies.windows import Windows

A = ApplyState

# History applies beyond this many get the lean shape (one operation, one task, no logs).
DETAIL_BUDGET = 20_000
# Share of applies that are in flight, bounded by the targets free for one (one per target).
ACTIVE_SHARE = 0.06
RECENT_TERMINAL = 40


def _weighted(mix: Sequence[tuple[A, int]]) -> tuple[list[A], list[int]]:
    states, cumulative, total = [], [], 0
    for state, weight in mix:
        total += weight
        states.append(state)
        cumulative.append(total)
    return states, cumulative


class Planner:
    """Specs drawn from the shared seeded RNG; keeps which targets are still free for an
    active apply (SchemaBot allows one non-terminal apply per target)."""

    def __init__(
        self, rng: random.Random, targets: dict[Engine, list[Target]], windows: Windows
    ) -> None:
        self.rng, self.targets, self.windows = rng, targets, windows
        # Targets with no non-terminal apply yet, in a seeded order.
        self.free = {engine: rng.sample(t, len(t)) for engine, t in targets.items()}
        self.active_mix = _weighted(ACTIVE_MIX)
        self.terminal_mix = {engine: _weighted(mix) for engine, mix in TERMINAL_MIX.items()}

    def tail_specs(self, total: int) -> list[Spec]:
        """The recent applies: every special case, some more in flight, some just finished."""
        specs = [self._active_spec(state, engine, kind) for state, engine, kind in SPECIAL_CASES]
        free = sum(len(targets) for targets in self.free.values())
        extra = min(round(total * ACTIVE_SHARE), free * 3 // 4, total - len(specs))
        specs += [self._random_active_spec() for _ in range(extra)]
        recent = min(RECENT_TERMINAL, total - len(specs))
        specs += [
            self._terminal_spec(self.rng.randint(15 * MINUTE, 2 * DAY)) for _ in range(recent)
        ]
        # AUTO_INCREMENT ids follow creation order, so the tail is sorted by it too.
        return sorted(specs, key=lambda spec: -spec.created_ago)

    def history_specs(self, count: int, tail: list[Spec]) -> Iterator[Spec]:
        """Finished applies, oldest first, spread evenly before the tail's oldest apply.

        Lazy: each spec is drawn just before its rows, so the RNG order interleaves the two.
        """
        newest = max(spec.created_ago for spec in tail) + 10 * MINUTE
        step = min(max(count * 2 * HOUR, 30 * DAY), 3 * 365 * DAY) / max(count, 1)
        detail_share = DETAIL_BUDGET / max(count, 1)
        for i in range(count):
            created = newest + int((count - i - self.rng.random()) * step)
            yield self._terminal_spec(created, detail=self.rng.random() < detail_share)

    def _engine(self) -> Engine:
        return Engine.SPIRIT if self.rng.random() < 0.55 else Engine.PLANETSCALE

    def _terminal_spec(self, created: int, *, detail: bool = True) -> Spec:
        engine = self._engine()
        states, weights = self.terminal_mix[engine]
        state = self.rng.choices(states, cum_weights=weights)[0]
        started = max(1, created - self.rng.randint(1, 30))
        ended = started - min(self.rng.randint(45, 5 * HOUR), started - 1)
        completed = None if state == A.STOPPED else ended  # stopped keeps completed_at NULL
        exhausted = state == A.FAILED and self.rng.random() < 0.2
        attempt = self.windows.retry_budget if exhausted else 0
        target = self.rng.choice(self.targets[engine])
        return Spec(
            state, target, Kind.HISTORY, created, started, ended, completed, attempt, detail
        )

    def _random_active_spec(self) -> Spec:
        states, weights = self.active_mix
        state = self.rng.choices(states, cum_weights=weights)[0]
        engine = Engine.PLANETSCALE if state in PLANETSCALE_ONLY else self._engine()
        if not self.free[engine]:
            return self._terminal_spec(self.rng.randint(15 * MINUTE, 2 * DAY))
        stale = self.rng.random() < 0.15
        kind = Kind.QUEUED if state == A.PENDING else Kind.STALE if stale else Kind.FRESH
        return self._active_spec(state, engine, kind)

    def _active_spec(self, state: str, engine: Engine, kind: Kind) -> Spec:
        # A stopped apply waiting for its start takes its target too, so the start can succeed.
        occupies = state not in TERMINAL_APPLY_STATES or kind is Kind.START_REQUESTED
        target = self.free[engine].pop() if occupies else self.rng.choice(self.targets[engine])
        updated = self._heartbeat_ago(kind)
        if kind is Kind.QUEUED:
            return Spec(state, target, kind, updated, None, updated, None)
        started = updated + self.rng.randint(2 * MINUTE, 4 * HOUR)
        created = started + self.rng.randint(1, 30)
        return Spec(state, target, kind, created, started, updated, None, self._attempt(kind))

    def _heartbeat_ago(self, kind: Kind) -> int:
        """How long ago ``updated_at`` (the heartbeat) was written, for each kind."""
        rng, windows = self.rng, self.windows
        if kind is Kind.FRESH:
            return rng.randint(1, max(1, min(9, windows.stale_after // 4)))
        if kind is Kind.STALE:
            return windows.stale_after + rng.randint(2 * MINUTE, 39 * MINUTE)
        if kind is Kind.RETRY_TOO_OLD:
            return windows.retry_freshness + rng.randint(HOUR, DAY)
        if kind in (Kind.RETRY_IN_BUDGET, Kind.RETRY_OVER_BUDGET):
            newest = max(1, min(3 * HOUR, windows.retry_freshness // 2))
            return rng.randint(min(2 * MINUTE, newest), newest)
        if kind is Kind.QUEUED:
            return rng.randint(20, 90)
        return rng.randint(HOUR, 6 * HOUR)

    def _attempt(self, kind: Kind) -> int:
        budget = self.windows.retry_budget
        if kind is Kind.RETRY_OVER_BUDGET:
            return budget + self.rng.randint(0, 2)
        if kind in (Kind.RETRY_IN_BUDGET, Kind.RETRY_TOO_OLD):
            return self.rng.randint(min(1, budget - 1), budget - 1)
        return 0
