"""How long ``seed_demo`` takes to build the benchmark tables, and whether it scales linearly.

    python bench/seed.py [--applies 1000000] [--baseline 10000]

Runs against the databases the environment configures (standalone mode: it resets SchemaBot's
tables). Seeds the baseline size, then the full size, in the same process, and prints both
times and the cost per inserted row at full size relative to the baseline (1.0 means perfectly
linear). Rows, not applies: small runs give every apply full detail (several tasks, logs,
requests) while large ones give most history applies one operation and one task.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applies", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
    import django

    django.setup()
    from django.conf import settings

    from applies import demo

    per_row = {}
    for size in (args.baseline, args.applies):
        started = time.perf_counter()
        report = demo.seed(size, reset=True)
        elapsed = time.perf_counter() - started
        rows = sum(report.counts.values())
        per_row[size] = elapsed / rows
        print(
            f"{size:>10,} applies: {elapsed:7.1f} s, {rows:>10,} rows, "
            f"{rows / elapsed:>8,.0f} rows/s"
        )
    engine = settings.DATABASES[settings.SCHEMABOT_DATABASE]["ENGINE"].rsplit(".", 1)[-1]
    ratio = per_row[args.applies] / per_row[args.baseline]
    print(f"{engine}: cost per row at {args.applies:,} applies is {ratio:.2f}x the baseline's")


if __name__ == "__main__":
    main()
