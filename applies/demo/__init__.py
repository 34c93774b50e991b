"""Demo data for SchemaBot's tables: a plausible history plus every case recovery must face.

``manage.py seed_demo`` calls :func:`seed`. Every apply gets a plan, a lock, one operation and
tasks; applies with *detail* also get 1-3 tasks, a state-transition log and control requests.
The cases the sweep and the console must get right are always there, not left to chance
(``catalogue.SPECIAL_CASES``): stale applies in every PlanetScale setup phase and a few other
claimable states, fresh ones a live driver holds, retries in and out of budget, ``paused``, a
state no release we know writes, a queued apply and start requests.

Speed: rows are generated in Python with explicit ids (children point at parents without
reading anything back) and written per chunk with one multi-row INSERT statement batch per
table; a million applies take minutes. Only ``planner.DETAIL_BUDGET`` history applies get full
detail, so the child tables keep a realistic shape without multiplying the row count.

Every timestamp is a whole-second offset from the *database* clock (``clock``). The clock is
read twice: once for the history, and again just before the recent applies are written, so
that a seed lasting minutes still ends with its fresh applies fresh.

Modules: ``catalogue`` (static data), ``clock`` (the database clock), ``shapes``
(dataclasses), ``world`` (databases, targets, locks), ``planner`` (which applies), ``paths``
(state histories), ``formats`` (JSON, identifiers, branch names), ``builder`` and ``children``
(rows), ``writer`` (bulk insert, reset), ``guard`` (when seeding is refused).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from applies import db
from applies.dbclock import database_now
from applies.demo.builder import Builder
from applies.demo.catalogue import MINIMUM_APPLIES, UNKNOWN_STATE
from applies.demo.clock import Clock
from applies.demo.guard import SeedRefused, TablesNotEmpty, check_may_seed
from applies.demo.writer import COLUMNS, empty_tables, write
from applies.engines.planetscale.types import deterministic_branch_name as branch_name
from applies.windows import Windows

__all__ = [
    "DEFAULT_APPLIES",
    "DEFAULT_CHUNK",
    "DEFAULT_SEED",
    "MINIMUM_APPLIES",
    "UNKNOWN_STATE",
    "SeedRefused",
    "SeedReport",
    "TablesNotEmpty",
    "branch_name",
    "check_may_seed",
    "database_now",
    "seed",
]

DEFAULT_APPLIES = 400
DEFAULT_SEED = 20260615
DEFAULT_CHUNK = 10_000


@dataclass
class SeedReport:
    applies: int
    counts: Counter[str]
    elapsed: float

    def summary(self) -> str:
        tables = ", ".join(f"{m._meta.db_table}={self.counts[m._meta.db_table]:,}" for m in COLUMNS)
        return f"Seeded {self.applies:,} demo applies in {self.elapsed:.1f}s ({tables})."


def seed(
    applies: int = DEFAULT_APPLIES,
    *,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[str], object] | None = None,
) -> SeedReport:
    """Fill SchemaBot's (empty, standalone) tables with ``applies`` demo applies.

    Raises SeedRefused in attach mode, when the tables are missing, or when they hold rows and
    ``reset`` is false. With ``reset`` every row of the seven tables is deleted first.
    """
    check_may_seed(applies=applies, reset=reset)
    started = time.perf_counter()
    connection = db.connection()
    if reset:
        empty_tables(connection)
    # Resolved in this module at each reading: tests patch demo.database_now to skew the clock.
    builder = Builder(
        random.Random(seed), lambda: Clock.of(database_now(db.alias())), Windows.from_settings()
    )
    write(connection, builder.locks(), builder.counts)
    for done, batch in builder.batches(applies, max(1, chunk_size)):
        write(connection, batch, builder.counts)
        if progress:
            progress(f"  {done:,}/{applies:,} applies ({time.perf_counter() - started:.1f}s)")
    return SeedReport(applies, builder.counts, time.perf_counter() - started)
