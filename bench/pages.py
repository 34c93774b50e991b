"""Server time of the console's pages as history grows, against Django admin's changelist.

    python bench/pages.py [--sizes 10000,1000000] [--runs 25] [--reuse]

MariaDB/MySQL only. Each size gets its own SchemaBot database next to the configured one
(``<name>_<size>``, created in standalone mode and seeded with ``seed_demo``'s data;
``--reuse`` keeps one that already holds exactly that many applies). ternadmin's own database
(users, sessions, sweep history) is shared. The pages, fetched in-process with Django's test
client by a logged-in operator:

* the dashboard (``/``);
* the applies list: first page, a deep page (keyset cursor in the middle of the table), a
  filtered first page and a filtered deep page (``state=completed&environment=production``);
* an apply's page (a stale ``creating_deploy_request`` apply, with its children and timeline);
* Django admin's default changelist of the ``applies`` table: ``Apply`` registered with a plain
  ``ModelAdmin`` on a throwaway ``AdminSite``, i.e. what a stock admin would do (``COUNT(*)``
  twice, ``ORDER BY -id``, ``LIMIT 100``); and the project's own ``/admin/applies/apply/`` when
  it exists.

Sizes are measured alternately, request by request (the connection is switched between
databases outside the timed region), so that whatever else the machine is doing weighs on
both alike. Each page is fetched three times per size to warm up, then ``--runs`` times; the
median is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

PAGES = (
    "dashboard",
    "list, first page",
    "list, deep page",
    "list filtered, first page",
    "list filtered, deep page",
    "apply page",
    "stock admin changelist",
    "project admin changelist",
)
FILTER = "state=completed&environment=production"
WARM_UP = 3


def setup_django() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
    import django

    django.setup()


@contextmanager
def schemabot_database(name: str) -> Iterator[None]:
    """Point the ``schemabot`` connection at database ``name`` (connected, for the block)."""
    from applies import db

    connection = db.connection()
    connection.close()
    connection.settings_dict["NAME"] = name
    connection.ensure_connection()
    yield


def prepare(name: str, size: int, reuse: bool) -> None:
    """Create the database and SchemaBot's tables if needed, and seed ``size`` applies."""
    from django.db import connections
    from django.db.models import Max

    from applies import db, demo
    from applies.models import Apply
    from applies.schema import create_standalone_tables

    with connections["default"].cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    with schemabot_database(name):
        create_standalone_tables(db.alias())
        highest = Apply.objects.aggregate(m=Max("id"))["m"]
        if reuse and highest == size:
            print(f"{name}: reusing its {size:,} applies")
            return
        started = time.perf_counter()
        demo.seed(size, reset=True)
        print(f"{name}: seeded {size:,} applies in {time.perf_counter() - started:.0f} s")


def urlconf() -> ModuleType:
    """The project's URLs plus a stock admin of ``Apply`` under ``/bench-admin/``."""
    from django.contrib import admin
    from django.urls import path

    from applies.models import Apply
    from ternadmin import urls

    site = admin.AdminSite(name="bench_admin")
    site.register(Apply, admin.ModelAdmin)
    module = ModuleType("bench_pages_urls")
    module.urlpatterns = [path("bench-admin/", site.urls), *urls.urlpatterns]  # type: ignore[attr-defined]
    return module


def operator() -> Any:
    from django.contrib.auth.models import Group, User

    from applies.roles import Role

    user, _ = User.objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    user.groups.add(Group.objects.get(name=Role.OPERATOR.value))
    return user


def targets() -> dict[str, str]:
    """The URL of each page in the current database (found outside any timed region)."""

    from applies.models import Apply
    from applies.selectors import Cursor
    from applies.states import ApplyState

    applies = Apply.objects
    newest_first = applies.order_by("-created_at", "-id")
    middle = newest_first[applies.count() // 2]
    filtered = newest_first.filter(state=ApplyState.COMPLETED, environment="production")
    filtered_middle = filtered[filtered.count() // 2]
    stuck = applies.filter(state=ApplyState.CREATING_DEPLOY_REQUEST).order_by("id").first()
    assert stuck is not None, "the demo data always has a stale creating_deploy_request apply"
    deep_filtered = Cursor.of(filtered_middle).encode()
    return {
        "dashboard": "/",
        "list, first page": "/applies/",
        "list, deep page": f"/applies/?after={Cursor.of(middle).encode()}",
        "list filtered, first page": f"/applies/?{FILTER}",
        "list filtered, deep page": f"/applies/?{FILTER}&after={deep_filtered}",
        "apply page": f"/applies/{stuck.pk}/",
        "stock admin changelist": "/bench-admin/applies/apply/",
        "project admin changelist": "/admin/applies/apply/",
    }


def fetch(client: Any, url: str) -> float | None:
    """Seconds to serve ``url``; ``None`` when the page does not exist."""
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code == 404:
        return None
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def queries(client: Any, url: str) -> int:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from applies import db

    with (
        CaptureQueriesContext(connections["default"]) as default,
        CaptureQueriesContext(db.connection()) as schemabot,
    ):
        client.get(url)
    return len(default) + len(schemabot)


def measure(
    client: Any, databases: dict[int, str], urls: dict[int, dict[str, str]], runs: int
) -> dict[str, dict[int, tuple[float, int] | None]]:
    """Median milliseconds and query count per page and size, sizes alternating."""
    results: dict[str, dict[int, tuple[float, int] | None]] = {}
    for page in PAGES:
        times: dict[int, list[float]] = {size: [] for size in databases}
        absent = False
        for round_ in range(WARM_UP + runs):
            for size, name in databases.items():
                with schemabot_database(name):
                    elapsed = fetch(client, urls[size][page])
                if elapsed is None:
                    absent = True
                elif round_ >= WARM_UP:
                    times[size].append(elapsed)
            if absent:
                break
        results[page] = {}
        for size, name in databases.items():
            if absent:
                results[page][size] = None
                continue
            with schemabot_database(name):
                count = queries(client, urls[size][page])
            results[page][size] = (statistics.median(times[size]) * 1000, count)
        print(f"{page:<28}", results[page])
    return results


def report(sizes: list[int], results: dict[str, dict[int, tuple[float, int] | None]]) -> None:
    small, big = min(sizes), max(sizes)
    print()
    print(f"| page | {small:,} applies | {big:,} applies | ratio | queries |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for page in PAGES:
        a, b = results[page][small], results[page][big]
        if a is None or b is None:
            print(f"| {page} | absent | absent | | |")
            continue
        print(f"| {page} | {a[0]:.1f} ms | {b[0]:.1f} ms | {b[0] / a[0]:.2f}× | {b[1]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    setup_django()
    from django.conf import settings
    from django.test import Client, override_settings
    from django.urls import clear_url_caches

    base = settings.DATABASES[settings.SCHEMABOT_DATABASE]["NAME"]
    databases = {size: f"{base}_{size}" for size in sizes}
    # Largest first: the small one is seeded last, so both end with equally fresh live applies.
    for size in reversed(sizes):
        prepare(databases[size], size, args.reuse)
    urls = {}
    for size, name in databases.items():
        with schemabot_database(name):
            urls[size] = targets()
    # No setup_test_environment(): its instrumented template rendering would be timed too.
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator())
    with override_settings(ROOT_URLCONF=urlconf()):
        clear_url_caches()
        results = measure(client, databases, urls, args.runs)
    clear_url_caches()
    report(sizes, results)


if __name__ == "__main__":
    main()
