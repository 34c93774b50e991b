"""A claimer in its own process, for the concurrency tests (``python -m tests.claim_worker``).

``race``: wait for the start time, try one claim. ``drain``: claim until nothing is left.
``hammer``: keep trying to claim one apply by id until the deadline.
Prints one JSON object: the ids and tokens it claimed, and any error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import django


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["race", "drain", "hammer"])
    parser.add_argument("--owner", required=True)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--apply-id", type=int, default=0)
    parser.add_argument("--until", type=float, default=0.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
    django.setup()
    from applies import claims

    claimed: list[tuple[int, str]] = []
    error = ""
    while time.time() < args.start_at:
        time.sleep(0.001)
    try:
        if args.mode == "race":
            apply = claims.find_next_apply(args.owner)
            if apply is not None:
                claimed.append((apply.pk, apply.lease_token))
        elif args.mode == "drain":
            while (apply := claims.find_next_apply(args.owner)) is not None:
                claimed.append((apply.pk, apply.lease_token))
        else:
            while time.time() < args.until:
                apply = claims.claim_apply_by_id(args.apply_id, args.owner)
                if apply is not None:
                    claimed.append((apply.pk, apply.lease_token))
                    break
                time.sleep(0.05)
    except Exception as exc:  # reported to the test, which fails on any
        error = f"{type(exc).__name__}: {exc}"
    json.dump({"claimed": claimed, "error": error}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
