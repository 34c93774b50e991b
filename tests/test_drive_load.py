"""SchemaBot's database refuses connections: the drive waits it out and finishes, never ends.

A scratch MariaDB account (named after this run's test database, dropped afterwards) may hold
two connections at once (``MAX_USER_CONNECTIONS 2``): as many as one drive loop uses (its steps
and its heartbeat thread). A scheduler reaches SchemaBot's database through that account while
the test holds both connections itself, so every connection the loop opens is refused by the
server ("has exceeded the 'max_user_connections' resource", 1226), as it would be by a server
at ``max_connections`` (1040).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import MySQLdb
import pytest
from django.conf import settings
from django_q.models import Schedule

from applies.claims import claim_apply
from applies.drives import record_drive
from applies.drives.slots import start_loops
from applies.models import Apply, Drive
from applies.states import ApplyState
from localscale.calls import call_stats
from tests.helpers import mariadb_server
from tests.live_processes import (
    engine_env,
    fresh_planetscale_apply,
    serve_emulator,
    start_cluster,
    stop_group,
)

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

LIMIT = 2
PASSWORD = "limited-account-0123"


@pytest.fixture
def limited_account() -> Iterator[str]:
    """An account on SchemaBot's test database that may hold ``LIMIT`` connections; its name."""
    database = settings.DATABASES["schemabot"]["NAME"]
    name = f"{database}_lim"[:80]
    admin = MySQLdb.connect(**mariadb_server(), autocommit=True)
    cursor = admin.cursor()
    cursor.execute(f"DROP USER IF EXISTS '{name}'@'%'")
    cursor.execute(
        f"CREATE USER '{name}'@'%' IDENTIFIED BY '{PASSWORD}' WITH MAX_USER_CONNECTIONS {LIMIT}"
    )
    cursor.execute(f"GRANT ALL ON `{database}`.* TO '{name}'@'%'")
    try:
        yield name
    finally:
        cursor.execute(f"DROP USER IF EXISTS '{name}'@'%'")
        admin.close()


def connect_as(name: str) -> MySQLdb.Connection:
    server = mariadb_server()
    return MySQLdb.connect(
        host=server["host"],
        port=server.get("port", 3306),
        user=name,
        password=PASSWORD,
        database=settings.DATABASES["schemabot"]["NAME"],
    )


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_drive_waits_out_refused_connections_and_finishes(
    settings: object, limited_account: str, tmp_path: Path
) -> None:
    settings.TERNADMIN_DRIVE_MODE = "loops"  # type: ignore[attr-defined]
    Schedule.objects.all().delete()  # only the loops run: no sweep competes for connections
    server = mariadb_server()
    schemabot_url = (
        f"mysql://{limited_account}:{PASSWORD}@{server['host']}:{server.get('port', 3306)}/"
        f"{settings.DATABASES['schemabot']['NAME']}"  # type: ignore[attr-defined]
    )
    with serve_emulator() as port:
        apply = fresh_planetscale_apply(port)
        claim = claim_apply(apply.pk, "node-t/1/sweep", engines=["planetscale"])
        assert claim is not None
        drive = record_drive(claim, trigger="test", on_loops=True)
        hogs = [connect_as(limited_account) for _ in range(LIMIT)]  # every allowed connection
        with pytest.raises(MySQLdb.OperationalError) as refused:
            connect_as(limited_account)
        assert refused.value.args[0] == 1226

        cluster = start_cluster(
            engine_env(port, SCHEMABOT_DATABASE_URL=schemabot_url), tmp_path / "cluster.log"
        )
        try:
            start_loops()

            def refused_and_recorded() -> bool:
                return "1226" in Drive.objects.get(pk=drive.pk).last_error

            wait_for(refused_and_recorded, 60, "the drive to record a refused connection")
            time.sleep(3)  # a few more refusals: the loop keeps backing off, the drive stays
            waiting = Drive.objects.get(pk=drive.pk)
            assert (waiting.outcome, waiting.consecutive_errors) == (Drive.Outcome.RUNNING, 0)
            for hog in hogs:
                hog.close()

            def finished() -> bool:
                row = Apply.objects.using("schemabot").get(pk=apply.pk)
                return row.state == ApplyState.COMPLETED

            wait_for(finished, 120, "the apply to complete once connections were allowed")
        finally:
            stop_group(cluster)
        log = cluster.output()

    done = Drive.objects.get(pk=drive.pk)
    assert done.outcome == Drive.Outcome.COMPLETED and done.consecutive_errors == 0
    assert "refused or lost the connection" in log and "1226" in log
    assert PASSWORD not in log
    stats = call_stats()[apply.apply_identifier]
    assert (stats["branches_created"], stats["deploy_requests_created"], stats["deploys"]) == (
        1,
        1,
        1,
    )
