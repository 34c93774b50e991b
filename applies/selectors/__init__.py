"""Read queries for the console and the API. Views never build querysets of their own.

Every read here stays fast at millions of applies using only SchemaBot's own indexes: no
``COUNT(*)`` or ``GROUP BY`` over the whole table, keyset pages instead of offsets, and the
set of unfinished applies (small: one per target) as the only thing classified in bulk.
Heartbeat ages are computed by the database clock.

- ``counts``: applies per state and engine (exact for active states, capped for finished ones)
- ``live``: unfinished applies with their classification; "not progressing"; applies by id
- ``dashboard``: the dashboard in one call, sweep health included
- ``listing``: keyset pages of the applies list
- ``detail``: one apply's whole story; what its actions allow now
- ``engine``: persisted engine resume state and the engine's live answer
"""

from __future__ import annotations

from applies.selectors.counts import StateCounts, StateRow, state_counts
from applies.selectors.dashboard import Dashboard, SweepHealth, dashboard, sweep_health
from applies.selectors.detail import (
    ApplyActions,
    ApplyDetail,
    apply_actions,
    apply_detail,
    get_apply,
)
from applies.selectors.engine import (
    EngineResume,
    LiveEngineState,
    ResumeState,
    engine_resume,
    live_state,
    resume_state,
)
from applies.selectors.listing import (
    ApplyPage,
    Cursor,
    Order,
    apply_page,
    base_queryset,
    page_query,
)
from applies.selectors.live import Filter, Idle, LiveApply, applies_by_id

__all__ = [
    "ApplyActions",
    "ApplyDetail",
    "ApplyPage",
    "Cursor",
    "Dashboard",
    "EngineResume",
    "Filter",
    "Idle",
    "LiveApply",
    "LiveEngineState",
    "Order",
    "ResumeState",
    "StateCounts",
    "StateRow",
    "SweepHealth",
    "applies_by_id",
    "apply_actions",
    "apply_detail",
    "apply_page",
    "base_queryset",
    "dashboard",
    "engine_resume",
    "get_apply",
    "live_state",
    "page_query",
    "resume_state",
    "state_counts",
    "sweep_health",
]
