"""The resume decision for plans of 20 and 200 tables: fetch the branch's schema, diff it.

    python bench/resume_decision.py [--sizes 20,200] [--runs 15]

What a resumed PlanetScale drive does before it runs any DDL: read the plan's schema files
(``schema_files.desired_schema``), ``GET …/branches/{b}/keyspaces`` and
``GET …/branches/{b}/schema?keyspace=…`` over real HTTP, and
compare every table's CREATE statement with its desired shape (``branch_changes.branch_diff``).
The branch's tables are real MariaDB ``SHOW CREATE TABLE`` output (created in a scratch
database on the MariaDB server at 127.0.0.1, dropped afterwards); the desired schema is
hand-written DDL for the same tables, half of them one column ahead of the branch (so half the
tables are in the diff). The API is a small HTTP
server on loopback answering with the documented shape of that endpoint.

Sizes are measured alternately, run by run, so that whatever else the machine is doing weighs
on both; the median of ``--runs`` is reported with the cost per table and its ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
os.environ.setdefault("TERNADMIN_DEMO", "1")

import django  # noqa: E402

django.setup()

import MySQLdb  # noqa: E402

from applies.engines.planetscale.branch_changes import branch_diff  # noqa: E402
from applies.engines.planetscale.client import PlanetScaleClient  # noqa: E402
from applies.engines.planetscale.config import PlanetScaleConfig  # noqa: E402
from applies.engines.planetscale.schema_files import desired_schema  # noqa: E402
from applies.engines.planetscale.transport import Transport  # noqa: E402

KEYSPACE = "shop"


def table_ddl(n: int, *, ahead: bool) -> str:
    extra = ",\n  archived_at datetime NULL" if ahead else ""
    return (
        f"CREATE TABLE t{n:03d} (\n  id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
        f"  account_id bigint NOT NULL,\n  status varchar(32) NOT NULL DEFAULT 'new',\n"
        f"  total decimal(12,2) NOT NULL DEFAULT '0.00',\n  payload json NULL,\n"
        f"  created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
        f"  updated_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n"
        f"  KEY idx_account (account_id, status),\n  UNIQUE KEY uk_account_created "
        f"(account_id, created_at){extra}\n)"
    )


def branch_tables(size: int) -> list[dict[str, str]]:
    """``SHOW CREATE TABLE`` of ``size`` tables as MariaDB writes it."""
    name = f"bench_resume_{uuid.uuid4().hex[:8]}"
    server = MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
    cursor = server.cursor()
    cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        cursor.execute(f"USE `{name}`")
        tables = []
        for n in range(size):
            cursor.execute(table_ddl(n, ahead=False))
            cursor.execute(f"SHOW CREATE TABLE t{n:03d}")
            table, raw = cursor.fetchone()
            tables.append({"name": table, "html": "", "raw": raw})
        return tables
    finally:
        cursor.execute(f"DROP DATABASE `{name}`")
        server.close()


def schema_files(size: int) -> str:
    files = {f"t{n:03d}.sql": table_ddl(n, ahead=n % 2 == 0) + ";" for n in range(size)}
    return json.dumps({KEYSPACE: {"Files": files}})


@contextmanager
def api_serving(schemas: dict[str, bytes]) -> Iterator[str]:
    """Loopback HTTP answering ``GET …/databases/{db}/branches/b/schema`` per database (and
    its keyspaces: one)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            database = self.path.split("/databases/")[1].split("/")[0]
            keyspaces = json.dumps({"data": [{"name": KEYSPACE}]}).encode()
            body = keyspaces if "/keyspaces" in self.path else schemas[database]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    schemas = {f"db{size}": json.dumps({"data": branch_tables(size)}).encode() for size in sizes}
    files = {size: schema_files(size) for size in sizes}
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    with api_serving(schemas) as url:
        config = PlanetScaleConfig(url, "bench", "id", "token")
        transport = Transport(config)
        for run in range(args.runs + 2):  # two warm-up rounds
            for size in sizes:
                client = PlanetScaleClient(transport, f"db{size}", "bench")
                started = time.perf_counter()
                diff = branch_diff(client, "b", desired_schema(files[size]))
                elapsed = time.perf_counter() - started
                assert len(diff.tables()) == size // 2, diff.summary()
                if run >= 2:
                    timings[size].append(elapsed)
        transport.close()
    base = sizes[0]
    base_per_table = statistics.median(timings[base]) / base
    print("| tables | median decision | per table | per-table cost vs 20 |")
    print("| ---: | ---: | ---: | ---: |")
    for size in sizes:
        median = statistics.median(timings[size])
        per_table = median / size
        print(
            f"| {size} | {median * 1000:.1f} ms | {per_table * 1000:.2f} ms "
            f"| {per_table / base_per_table:.2f}× |"
        )


if __name__ == "__main__":
    main()
