"""Shared test set-up.

The suite runs twice (see ``bin/test``): with both databases on MariaDB, and on the embedded
SQLite default with ``-m "not mariadb"``. A test marked ``mariadb`` needs the Django databases
to be MariaDB/MySQL, one marked ``redis`` a Redis server (``TERNADMIN_TEST_REDIS_URL``):
elsewhere it is skipped with the reason, except under CI, where a test that cannot run is a
failure.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connections

from applies.lines import LINES, Line
from applies.models import SCHEMABOT_MODELS

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMABOT_DDL_DIR = Path(
    os.environ.get("TERNADMIN_SCHEMABOT_DDL_DIR", REPO_ROOT.parent / "shared" / "schemabot-schema")
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("TERNADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Started in the background by a non-interactive shell, the run inherits SIGINT ignored, and so
# would every process it starts (bin/demo, the scheduler, the emulator), whose Ctrl-C the tests
# exercise: Python's own handling is restored, so the suite runs the same either way.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def schemabot_on_mariadb() -> bool:
    return settings.DATABASES[settings.SCHEMABOT_DATABASE]["ENGINE"] == "django.db.backends.mysql"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("mariadb") is not None and not schemabot_on_mariadb():
        _cannot_run(
            "needs MariaDB: set TERNADMIN_DATABASE_URL and SCHEMABOT_DATABASE_URL to mysql:// "
            "URLs (bin/test does)"
        )
    if item.get_closest_marker("redis") is not None and not redis_answers():
        _cannot_run(f"needs Redis at {REDIS_URL} (TERNADMIN_TEST_REDIS_URL; bin/test starts it)")


def _cannot_run(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI such a test never skips", pytrace=False)
    pytest.skip(reason)


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def schemabot_ddl() -> dict[str, str]:
    """SchemaBot's own CREATE TABLE statements (b2349ea), by table name."""
    files = sorted(SCHEMABOT_DDL_DIR.glob("*.sql"))
    if not files:
        pytest.skip(f"SchemaBot's DDL fixture is absent (looked in {SCHEMABOT_DDL_DIR})")
    return {path.stem: path.read_text() for path in files}


@pytest.fixture(autouse=True)
def _empty_schemabot_tables_after_transactional_tests(
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    # Django's flush after a transactional test skips unmanaged models, and SchemaBot's tables
    # are unmanaged: empty them ourselves so rows never leak into the next test.
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    if transactional or "transactional_db" in request.fixturenames:
        connection = connections[settings.SCHEMABOT_DATABASE]
        with connection.cursor() as cursor:
            for model in SCHEMABOT_MODELS:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


@pytest.fixture(scope="session", autouse=True)
def _drop_emulator_databases_at_the_end(django_db_setup: None) -> Iterator[None]:
    # Emulators served as processes (tests.live_processes) make real databases and accounts
    # named after this run's test database; whatever a test left behind goes at the end.
    yield
    if not schemabot_on_mariadb():
        return
    from django.test import override_settings

    from localscale.store.mariadb import MariaDBStore
    from tests.live_processes import branch_server, localscale_prefix

    with override_settings(LOCALSCALE_DATABASE_PREFIX=localscale_prefix()):
        MariaDBStore(branch_server()).reset()


@pytest.fixture(autouse=True)
def _drives_stay_queued(settings: Any) -> None:
    # A claim in an in-process test records its drive and leaves it queued (nothing steps it):
    # no test depends on a scheduler it did not start. Tests that drive run the steps in
    # process, or `manage.py recover`/`drive` or a cluster as subprocesses pointed at the test
    # databases.
    settings.TERNADMIN_DRIVE_MODE = "manual"


@pytest.fixture(params=sorted(LINES))
def line(request: pytest.FixtureRequest, settings: Any) -> Line:
    """Each SchemaBot line ternadmin can run beside, configured in turn
    (``TERNADMIN_SCHEMABOT_LINE``)."""
    settings.TERNADMIN_SCHEMABOT_LINE = request.param
    return LINES[request.param]
