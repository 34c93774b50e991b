"""What one claim costs as history grows, and claims per second against a raw-SQL baseline.

    python bench/claims.py [--sizes 10000,1000000] [--stale 1000] [--claims 200] [--procs 1,4]
                           [--rounds 9] [--keep]

Needs SCHEMABOT_MODE=standalone on MariaDB/MySQL. Each size gets its own database next to the
configured SchemaBot one (``<name>_10000``, ``<name>_1000000``: created, filled, dropped at the
end unless ``--keep``), so sizes can be measured in alternation. ``applies`` is filled straight
from SQL: ``--stale`` stale applies in claimable states and ``--fresh`` ones a live driver
holds, all among the newest rows, and terminal history (completed, failed, stopped, cancelled,
reverted) spread over two years for the rest, with a completed control request on one history
apply in forty. Then:

* the median cost of one ``find_next_apply`` (the claim code as the sweep runs it), of the same
  statements sent through mysqlclient directly (the baseline), and of upstream's single
  statement: one ``OR`` of every clause, ``ORDER BY created_at LIMIT 1 FOR UPDATE SKIP
  LOCKED``, then the claim ``UPDATE``; the handler reads of each, and the client's CPU time;
* claims per second when 1 and 4 worker processes drain the stale pool, each process with its
  own connection, ternadmin and the baseline back to back in every round, the ratio taken per
  round (the machine's other load drifts; a pair of drains sees about the same).

Claimed rows are made stale again (``updated_at`` pushed back) between measurements, outside
the timed regions. The baseline issues exactly the statements the claim code does: the
candidate query from ``applies.candidates``, ``BEGIN``, the locking ``SELECT`` with the clause
``CASE`` and the claim ``UPDATE`` (both recorded from a claim the code made), ``COMMIT``.
Ratios are what count, not absolute times. EXPLAIN (and what ANALYZE read) of the candidate,
lock and upstream queries is printed at the largest size.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

HISTORY_STATES = (  # (``ApplyState`` name, share in percent) of the terminal history
    ("COMPLETED", 80),
    ("FAILED", 8),
    ("STOPPED", 4),
    ("CANCELLED", 5),
    ("REVERTED", 3),
)
FAILED_MESSAGE = "CONCAT('deploy request ', seq, ' failed: lint errors')"
HISTORY_SPAN = 2 * 365 * 86_400  # seconds between the oldest and the newest apply
SEED_CHUNK = 100_000
UPSTREAM_BUDGET = 20.0  # seconds of upstream claims per size (each is seconds at a million)


# --- the dataset ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """The applies a claim may take (stale) and those a live driver holds (fresh)."""

    stale: list[int]
    fresh: list[int]


def _history_state_sql() -> str:
    from applies.states import ApplyState

    arms, bound = [], 0
    for name, share in HISTORY_STATES:
        bound += share
        arms.append(f"WHEN h < {bound} THEN '{ApplyState[name]}'")
    return f"CASE {' '.join(arms)} END"


def _apply_rows_sql(
    size: int, stale: int, fresh: int, stale_after: int, now: str, first: int, last: int
) -> str:
    """``INSERT … SELECT`` of applies ``first``..``last`` from MariaDB's sequence engine.

    Stale and fresh applies sit at evenly spaced slots among the newest rows, as live work
    does; their states cycle through every claimable state.
    """
    from applies.db import quoted
    from applies.demo.writer import COLUMNS
    from applies.models import Apply
    from applies.states import CLAIMABLE_APPLY_STATES, ApplyState

    window = min(size, 2 * (stale + fresh))
    stride = window // (stale + fresh)
    claimable = f"ELT(1 + slot % {len(CLAIMABLE_APPLY_STATES)}, {quoted(CLAIMABLE_APPLY_STATES)})"
    created = (
        f"(TIMESTAMP'{now}' - INTERVAL (3600 + ({size} - seq) * {HISTORY_SPAN} DIV {size}) SECOND)"
    )
    done = "(created + INTERVAL (60 + seq % 3000) SECOND)"
    heartbeat = (
        f"CASE role WHEN 0 THEN {done} WHEN 1 THEN"
        f" TIMESTAMP'{now}' - INTERVAL ({stale_after + 60} + seq % 1800) SECOND"
        f" ELSE TIMESTAMP'{now}' END"
    )
    vitess = "seq % 200 < 120"
    values = [
        "seq", "CONCAT('apply-', seq)", "1 + seq % 200", "seq", "CONCAT('db', seq % 200)",
        f"IF({vitess}, 'vitess', 'mysql')", "'acme/schemas'", "1 + seq % 5000",
        "IF(seq % 2, 'staging', 'production')", "''", "'schemabot'", "0", "''",
        f"IF({vitess}, 'planetscale', 'spirit')", "state",
        f"IF(state = '{ApplyState.FAILED}', {FAILED_MESSAGE}, NULL)",
        "CONCAT('{\"branch\": \"schemabot-', seq, '\", \"auto_cutover\": true}')", "0",
        "IF(role = 2, 'schemabot-live/1/driver-0', CONCAT('schemabot-', seq % 3, '/1/driver-0'))",
        "UUID()", "created + INTERVAL 10 SECOND", "created + INTERVAL 5 SECOND",
        f"IF(role = 0, {done}, NULL)", "created", heartbeat,
    ]  # fmt: skip
    assert len(values) == len(COLUMNS[Apply])
    slot = (
        f"IF(seq > {size - window} AND (seq - {size - window} - 1) % {stride} = 0,"
        f" (seq - {size - window} - 1) DIV {stride}, -1)"
    )
    role = (
        f"CASE WHEN slot >= 0 AND slot < {stale} THEN 1"
        f" WHEN slot >= {stale} AND slot < {stale + fresh} THEN 2 ELSE 0 END"
    )
    return (
        f"INSERT INTO applies ({', '.join(COLUMNS[Apply])}) SELECT {', '.join(values)} FROM ("
        f" SELECT seq, slot, role, {created} AS created,"
        f" IF(role = 0, {_history_state_sql()}, {claimable}) AS state FROM ("
        f"  SELECT seq, slot, {role} AS role, seq * 7919 % 100 AS h FROM ("
        f"   SELECT seq, {slot} AS slot FROM seq_1_to_{size} WHERE seq BETWEEN {first} AND {last}"
        ") s1) s2) s3"
    )


CONTROL_REQUESTS_SQL = (
    "INSERT INTO apply_control_requests (apply_id, operation, status, requested_by,"
    " error_message, metadata, completed_at, created_at, updated_at)"
    " SELECT id, IF(state = 'stopped', 'stop', 'start'), 'completed', 'octocat', NULL, '{}',"
    " created_at + INTERVAL 30 SECOND, created_at + INTERVAL 20 SECOND,"
    " created_at + INTERVAL 30 SECOND"
    " FROM applies WHERE id % 40 = 0 AND completed_at IS NOT NULL"
)


def build(size: int, stale: int, fresh: int) -> Pool:
    """Empty SchemaBot's tables and fill ``applies`` (and some control requests)."""
    from applies import db
    from applies.dbclock import database_now
    from applies.demo.writer import empty_tables
    from applies.windows import Windows

    connection = db.connection()
    empty_tables(connection)
    now = database_now(db.alias()).replace(tzinfo=None).isoformat(" ")
    stale_after = Windows.from_settings().stale_after
    with connection.cursor() as cursor:
        for first in range(1, size + 1, SEED_CHUNK):
            last = min(size, first + SEED_CHUNK - 1)
            cursor.execute(_apply_rows_sql(size, stale, fresh, stale_after, now, first, last))
        cursor.execute(CONTROL_REQUESTS_SQL)
        cursor.execute("ANALYZE TABLE applies, apply_control_requests")
        cursor.fetchall()
        cursor.execute("SELECT id, lease_owner FROM applies WHERE completed_at IS NULL")
        rows = cursor.fetchall()
    live = "schemabot-live/1/driver-0"
    pool = Pool(
        [i for i, owner in rows if owner != live], [i for i, owner in rows if owner == live]
    )
    assert (len(pool.stale), len(pool.fresh)) == (stale, fresh), "dataset shape"
    return pool


def restale(pool: Pool) -> None:
    """Make every pool apply claimable again and the live ones fresh (outside timed regions)."""
    from applies import db
    from applies.windows import Windows

    age = Windows.from_settings().stale_after + 60
    with db.connection().cursor() as cursor:
        cursor.execute(
            f"UPDATE applies SET updated_at = NOW() - INTERVAL {age} SECOND"
            f" WHERE id IN ({', '.join(map(str, pool.stale))})"
        )
        cursor.execute(
            f"UPDATE applies SET updated_at = NOW() WHERE id IN ({', '.join(map(str, pool.fresh))})"
        )


# --- claimers: ternadmin, the raw baseline, upstream's statement ------------------------------


class Claimer(Protocol):
    def claim(self, owner: str) -> bool: ...

    def handler_reads(self) -> int: ...


def _handler_reads(cursor: Any) -> int:
    cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%'")
    return sum(int(value) for _, value in cursor.fetchall())


class Ternadmin:
    """The claim code as the sweep calls it."""

    def __init__(self) -> None:
        from applies.claims import find_next_apply

        self.find_next_apply = find_next_apply

    def claim(self, owner: str) -> bool:
        return self.find_next_apply(owner) is not None

    def warm_up(self, owner: str) -> None:
        from applies.claims import claim_apply

        claim_apply(0, owner)  # compiles the lock query, opens the connection; claims nothing

    def handler_reads(self) -> int:
        from applies import db

        with db.connection().cursor() as cursor:
            return _handler_reads(cursor)


@dataclass(frozen=True)
class Statements:
    """What one ``find_next_apply`` sent, recorded from the claim code itself."""

    candidates: str
    lock: str
    update: str  # the lease rotation of an active apply (every pool apply is active)


def record_statements(apply_id: int, owner: str) -> Statements:
    """Claim ``apply_id`` through ``find_next_apply`` and keep the statements it executed."""
    from applies import db
    from applies.claims import find_next_apply

    sent: list[str] = []

    def recorder(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    with db.connection().execute_wrapper(recorder):
        claimed = find_next_apply(owner)
    assert claimed is not None and claimed.pk == apply_id, "expected the oldest stale apply"
    assert len(sent) == 3, f"expected candidates, lock, update; got {len(sent)} statements"
    return Statements(*sent)


def raw_connection() -> Any:
    """A mysqlclient connection set up as Django sets up its own (same options, READ COMMITTED)."""
    import MySQLdb

    from applies import db

    wrapper = db.connection()
    connection = MySQLdb.connect(**wrapper.get_connection_params())
    connection.autocommit(True)
    connection.cursor().execute(
        "SET SESSION TRANSACTION ISOLATION LEVEL "
        + getattr(wrapper, "isolation_level", "read committed").upper()
    )
    return connection


class Baseline:
    """``find_next_apply``'s statements through mysqlclient, with nothing in between."""

    def __init__(self, statements: Statements) -> None:
        from applies.candidates import PAGE_SIZE, Candidate, apply_candidates
        from applies.leases import new_token
        from applies.windows import Windows

        self.new_candidate, self.new_token = Candidate, new_token
        self.statements = statements
        self.connection = raw_connection()
        self.page_size = PAGE_SIZE
        self.windows = Windows.from_settings()
        self.candidates = apply_candidates
        assert apply_candidates("mysql", self.windows).sql == statements.candidates

    def claim(self, owner: str) -> bool:
        cursor = self.connection.cursor()
        after = None
        while True:
            query = self.candidates("mysql", self.windows, after=after)
            cursor.execute(query.sql, query.params)
            page = cursor.fetchall()
            for apply_id, _ in page:
                cursor.execute("BEGIN")
                cursor.execute(self.statements.lock, [apply_id])
                row = cursor.fetchone()
                if row is not None:
                    cursor.execute(self.statements.update, [owner, self.new_token(), apply_id])
                cursor.execute("COMMIT")
                if row is not None:
                    return True
            if len(page) < self.page_size:
                return False
            after = self.new_candidate(*page[-1])

    def warm_up(self, owner: str) -> None:
        cursor = self.connection.cursor()
        cursor.execute(self.statements.lock, [0])
        cursor.fetchall()

    def handler_reads(self) -> int:
        return _handler_reads(self.connection.cursor())


def upstream_select() -> str:
    """SchemaBot's FindNextApply: one OR of every clause, oldest first, skip locked rows."""
    from applies import db
    from applies.clauses import apply_clause_sql
    from applies.models import Apply
    from applies.windows import Windows

    clauses = apply_clause_sql(db.connection().vendor, Windows.from_settings())
    columns = ", ".join(f"applies.{field.column}" for field in Apply._meta.concrete_fields)
    where = " OR ".join(f"({sql})" for sql in clauses.values())
    return (
        f"SELECT {columns} FROM applies WHERE {where}"
        " ORDER BY applies.created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    )


class Upstream:
    """Upstream's claim transaction: the single SELECT, then the same claim UPDATE."""

    def __init__(self, statements: Statements) -> None:
        from applies.leases import new_token

        self.select = upstream_select()
        self.update = statements.update
        self.connection = raw_connection()
        self.new_token = new_token

    def claim(self, owner: str) -> bool:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN")
        cursor.execute(self.select)
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(self.update, [owner, self.new_token(), row[0]])
        cursor.execute("COMMIT")
        return row is not None

    def handler_reads(self) -> int:
        return _handler_reads(self.connection.cursor())


# --- one database per size -------------------------------------------------------------------


@dataclass
class Dataset:
    """One size, in its own database, so that sizes can be measured in alternation."""

    size: int
    database: str
    pool: Pool
    statements: Statements
    baseline: Baseline
    upstream: Upstream


def use(database: str) -> None:
    """Point SchemaBot's connection alias at ``database`` (closing the open connection)."""
    from applies import db

    connection = db.connection()
    connection.close()
    connection.settings_dict["NAME"] = database


def prepare(size: int, base: str, args: argparse.Namespace) -> Dataset:
    from applies import db
    from applies.schema import create_standalone_tables

    database = f"{base}_{size}"
    with raw_cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
    use(database)
    create_standalone_tables(db.alias())
    started = time.perf_counter()
    pool = build(size, args.stale, args.fresh)
    print(f"{size:,} applies in {database}: built in {time.perf_counter() - started:.1f} s")
    restale(pool)
    statements = record_statements(_oldest(pool), owner_id())
    return Dataset(size, database, pool, statements, Baseline(statements), Upstream(statements))


def _oldest(pool: Pool) -> int:
    from applies import db

    ids = ", ".join(map(str, pool.stale))
    with db.connection().cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM applies WHERE id IN ({ids}) ORDER BY created_at, id LIMIT 1"
        )
        return int(cursor.fetchone()[0])


# --- measurements -----------------------------------------------------------------------------

KINDS = ("ternadmin", "baseline")


def owner_id(worker: int = 0) -> str:
    return f"bench-host/{os.getpid()}/driver-{worker}"


def claimer(dataset: Dataset, kind: str) -> Claimer:
    return Ternadmin() if kind == "ternadmin" else dataset.baseline


def in_turn(round_: int) -> tuple[str, ...]:
    """Which kind goes first alternates by round, so drifting load hits both alike."""
    return KINDS if round_ % 2 == 0 else KINDS[::-1]


def claim_times(claimer: Claimer, count: int, budget: float | None = None) -> list[float]:
    """Milliseconds per claim for ``count`` claims (fewer if ``budget`` seconds run out)."""
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < count:
        before = time.perf_counter()
        assert claimer.claim(owner_id()), "the stale pool ran dry"
        times.append((time.perf_counter() - before) * 1000)
        if budget is not None and len(times) >= 3 and time.perf_counter() - started > budget:
            break
    return times


def single_claims(datasets: list[Dataset], args: argparse.Namespace) -> dict[Any, list[float]]:
    """Per (size, kind): milliseconds of one claim; sizes and kinds take turns, round by round.

    Per (size, kind, "cpu"): this process's CPU milliseconds per claim, one value per batch
    (the client's share of the work, which other load on the machine hardly moves).
    """
    times: dict[Any, list[float]] = {}
    for dataset in datasets:  # warm the buffer pool and the connections
        use(dataset.database)
        for kind in KINDS:
            restale(dataset.pool)
            claim_times(claimer(dataset, kind), 5)
    per_round = max(1, args.claims // args.rounds)
    for round_ in range(args.rounds):
        for dataset in datasets:
            use(dataset.database)
            for kind in in_turn(round_):
                restale(dataset.pool)
                cpu = time.process_time()
                batch = claim_times(claimer(dataset, kind), per_round)
                cpu = (time.process_time() - cpu) * 1000 / len(batch)
                times.setdefault((dataset.size, kind), []).extend(batch)
                times.setdefault((dataset.size, kind, "cpu"), []).append(cpu)
    for dataset in datasets:  # the reference: seconds per claim at a million, so a few only
        use(dataset.database)
        restale(dataset.pool)
        claim_times(dataset.upstream, 1)
        restale(dataset.pool)
        times[dataset.size, "upstream"] = claim_times(
            dataset.upstream, args.claims, UPSTREAM_BUDGET
        )
    return times


def rows_read(claimer: Claimer) -> int:
    """Handler reads of one claim, less those of the status query itself."""
    first = claimer.handler_reads()
    second = claimer.handler_reads()
    assert claimer.claim(owner_id())
    third = claimer.handler_reads()
    return (third - second) - (second - first)


def _drain(kind: str, statements: Statements, worker: int, barrier: Any, results: Any) -> None:
    """A worker process: connect and warm up, wait for the start, claim until nothing is left."""
    claimer: Ternadmin | Baseline = Ternadmin() if kind == "ternadmin" else Baseline(statements)
    owner = owner_id(worker)
    claimer.warm_up(owner)
    barrier.wait(timeout=120)
    claimed = 0
    while claimer.claim(owner):
        claimed += 1
    results.put(claimed)


def drain_rate(kind: str, procs: int, dataset: Dataset) -> float:
    """Claims per second while ``procs`` processes drain the whole stale pool."""
    from django.db import connections

    use(dataset.database)
    restale(dataset.pool)
    connections.close_all()  # the children must not share the parent's socket
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(procs + 1), context.Queue()
    workers = [
        context.Process(target=_drain, args=(kind, dataset.statements, n, barrier, results))
        for n in range(procs)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    claimed = sum(results.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    expected = len(dataset.pool.stale)
    assert claimed == expected, f"{kind} x{procs} claimed {claimed} of {expected}"
    return claimed / elapsed


def throughput(datasets: list[Dataset], args: argparse.Namespace) -> dict[Any, list[float]]:
    """Per (size, procs, kind): claims per second of each round's drain, kinds taking turns."""
    rates: dict[Any, list[float]] = {}
    for procs in args.procs:
        for round_ in range(args.rounds):
            for dataset in datasets:
                for kind in in_turn(round_):
                    rate = drain_rate(kind, procs, dataset)
                    rates.setdefault((dataset.size, procs, kind), []).append(rate)
    return rates


# --- EXPLAIN ----------------------------------------------------------------------------------


@contextmanager
def raw_cursor() -> Iterator[Any]:
    connection = raw_connection()
    try:
        yield connection.cursor()
    finally:
        connection.close()


def explain(title: str, sql: str, params: list[Any]) -> None:
    """MariaDB's EXPLAIN, then what ANALYZE saw: rows and index pages each table access read."""
    with raw_cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        cursor.execute(f"ANALYZE FORMAT=JSON {sql}", params)
        plan = json.loads(cursor.fetchone()[0])
    print(f"\nEXPLAIN {title}:")
    keep = ("id", "select_type", "table", "type", "key", "rows", "Extra")
    print("  " + " | ".join(keep))
    for row in rows:
        values = dict(zip(names, row, strict=True))
        print("  " + " | ".join("NULL" if values[k] is None else str(values[k]) for k in keep))
    reads = [read for read in _table_reads(plan) if not read[0].startswith("<")]
    total_rows = sum(read_rows for _, _, read_rows, _ in reads)
    total_pages = sum(pages for _, _, _, pages in reads)
    print(f"ANALYZE: {total_rows:,.0f} rows read, {total_pages:,} pages accessed")
    for table, key, rows_read, pages in reads:
        if rows_read or pages:
            print(f"  {table} via {key}: {rows_read:,.0f} rows, {pages:,} pages")


def _table_reads(node: Any) -> Iterator[tuple[str, str, float, int]]:
    """(table, key, rows read over all loops, pages accessed) for each table access."""
    if isinstance(node, dict):
        if "table_name" in node and "r_loops" in node:
            key = node.get("key") or node.get("access_type", "?")
            rows = float(node.get("r_rows") or 0) * float(node["r_loops"])
            if node.get("access_type") == "const":
                rows = float(node.get("rows") or 0)  # read while planning; r_rows is null
            pages = int(node.get("r_engine_stats", {}).get("pages_accessed", 0))
            yield node["table_name"], key, rows, pages
        for value in node.values():
            yield from _table_reads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _table_reads(value)


def explain_all(dataset: Dataset) -> None:
    use(dataset.database)
    restale(dataset.pool)
    print(f"\n--- EXPLAIN at {dataset.size:,} applies ---")
    explain("candidate query (applies.candidates)", dataset.statements.candidates, [])
    lock_params = [_oldest(dataset.pool)]
    explain("lock query (applies.claims, one stale apply)", dataset.statements.lock, lock_params)
    explain("upstream's single statement", upstream_select(), [])


# --- report -----------------------------------------------------------------------------------


def report(
    datasets: list[Dataset],
    times: dict[Any, list[float]],
    reads: dict[Any, int],
    rates: dict[Any, list[float]],
    args: argparse.Namespace,
) -> None:
    med = {key: statistics.median(values) for key, values in times.items()}
    print("\n| applies | ternadmin ms/claim | baseline ms/claim | ratio | upstream ms/claim"
          " | handler reads/claim: ternadmin, upstream | client CPU ms/claim: ternadmin,"
          " baseline |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for d in datasets:
        t, b, u = (med[d.size, kind] for kind in (*KINDS, "upstream"))
        t_cpu, b_cpu = (med[d.size, kind, "cpu"] for kind in KINDS)
        print(
            f"| {d.size:,} | {t:.2f} | {b:.2f} | {b / t:.2f} | {_ms(u)}"
            f" (n={len(times[d.size, 'upstream'])}) |"
            f" {reads[d.size, 'ternadmin']:,}, {reads[d.size, 'upstream']:,} |"
            f" {t_cpu:.2f}, {b_cpu:.2f} |"
        )
    small, large = datasets[0].size, datasets[-1].size
    for kind in (*KINDS, "upstream"):
        growth = med[large, kind] / med[small, kind]
        print(f"{kind}: one claim at {large:,} costs {growth:.2f}x what it costs at {small:,}")
    print("\n| applies | processes | ternadmin claims/s | baseline claims/s | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for d in datasets:
        for procs in args.procs:
            t_runs, b_runs = rates[d.size, procs, "ternadmin"], rates[d.size, procs, "baseline"]
            # Each round's two drains ran back to back: compare them pairwise.
            ratio = statistics.median(t / b for t, b in zip(t_runs, b_runs, strict=True))
            print(
                f"| {d.size:,} | {procs} | {statistics.median(t_runs):.0f} |"
                f" {statistics.median(b_runs):.0f} | {ratio:.2f} |"
            )
            ratios = sorted(t / b for t, b in zip(t_runs, b_runs, strict=True))
            print(f"    rounds: {_runs(t_runs)} vs {_runs(b_runs)};"
                  f" paired ratios {', '.join(f'{r:.2f}' for r in ratios)}")  # fmt: skip


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--stale", type=int, default=1000)
    parser.add_argument("--fresh", type=int, default=50, help="applies a live driver holds")
    parser.add_argument("--claims", type=int, default=200, help="timed single claims per size")
    parser.add_argument("--procs", default="1,4")
    parser.add_argument("--rounds", type=int, default=9, help="alternations of each measurement")
    parser.add_argument("--keep", action="store_true", help="keep the per-size databases")
    args = parser.parse_args()
    args.procs = [int(p) for p in args.procs.split(",")]
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.claims // args.rounds + 10 > args.stale:
        parser.error("--claims / --rounds must leave room in the stale pool")

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
    import django

    django.setup()
    from django.conf import settings

    from applies import db
    from ternadmin.config import STANDALONE

    if settings.SCHEMABOT_MODE != STANDALONE or db.connection().vendor != "mysql":
        sys.exit("bench/claims.py needs SCHEMABOT_MODE=standalone on a MariaDB/MySQL database")
    base = str(db.connection().settings_dict["NAME"])
    datasets = [prepare(size, base, args) for size in sizes]
    try:
        times = single_claims(datasets, args)
        reads = {}
        for dataset in datasets:
            use(dataset.database)
            for kind, claiming in (("ternadmin", Ternadmin()), ("upstream", dataset.upstream)):
                restale(dataset.pool)
                reads[dataset.size, kind] = rows_read(claiming)
        rates = throughput(datasets, args)
        explain_all(datasets[-1])
        report(datasets, times, reads, rates, args)
    finally:
        use(base)
        if not args.keep:
            with raw_cursor() as cursor:
                for dataset in datasets:
                    cursor.execute(f"DROP DATABASE IF EXISTS `{dataset.database}`")


if __name__ == "__main__":
    main()
