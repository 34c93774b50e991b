"""The operator console in a real browser (Playwright driving Debian's Chromium) on MariaDB.

The stuck apply is made the way it happens in production: a driver (``manage.py recover``)
is killed just before it creates the deploy request, and its heartbeat goes stale. The
operator then finds it on the dashboard, reclaims it, and watches the recovery drive (stepped
by the drive loops of a real scheduler, talking to the LocalScale emulator) finish it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django_q.models import Schedule
from playwright.sync_api import Page, expect, sync_playwright

from applies.models import Apply, ApplyLog
from applies.roles import Role
from applies.states import ApplyState
from applies.vocabulary import LogSource
from tests.claim_fixtures import reload
from tests.console_fixtures import PASSWORD, user_in
from tests.helpers import REPO_ROOT
from tests.live_processes import (
    engine_env,
    fresh_planetscale_apply,
    serve_emulator,
    start_cluster,
    stop_group,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STALE_AFTER = 2
A = ApplyState


@pytest.fixture
def emulator() -> Iterator[int]:
    with serve_emulator() as port:
        yield port


@pytest.fixture
def console(settings: Any, emulator: int, tmp_path: Path) -> Iterator[int]:
    """The live server's settings, and a scheduler whose drive loops step what it claims. The
    sweep's schedule is removed first: the operator, not the sweep, reclaims here."""
    Schedule.objects.all().delete()
    settings.TERNADMIN_DRIVE_MODE = "loops"
    settings.TERNADMIN_HEARTBEAT_SECONDS = 1
    settings.TERNADMIN_STALE_AFTER_SECONDS = STALE_AFTER
    settings.TERNADMIN_CONSOLE_REFRESH_SECONDS = 1
    settings.PLANETSCALE_API_URL = f"http://127.0.0.1:{emulator}"
    settings.PLANETSCALE_SERVICE_TOKEN_ID = "test"
    settings.PLANETSCALE_SERVICE_TOKEN = "test-secret"
    cluster = start_cluster(
        engine_env(emulator, TERNADMIN_STALE_AFTER_SECONDS=str(STALE_AFTER)),
        tmp_path / "cluster.log",
    )
    yield emulator
    stop_group(cluster)


def crashed_apply(port: int) -> Apply:
    """A PlanetScale apply whose driver died just before creating the deploy request."""
    apply = fresh_planetscale_apply(port)
    env = engine_env(port, TERNADMIN_CRASH_AT="create_deploy_request:before")
    crash = subprocess.run(
        [sys.executable, "manage.py", "recover", str(apply.pk)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crash.returncode == -signal.SIGKILL, crash.stderr
    time.sleep(STALE_AFTER + 1.2)  # whole-second heartbeats: one more second to be sure
    row = reload(apply)
    assert row.state == A.CREATING_DEPLOY_REQUEST and row.lease_token
    return row


def off_the_event_loop(work: Callable[[], None]) -> None:
    """Run ORM work while Playwright's sync API holds an event loop in this thread."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")


def test_an_operator_reclaims_a_stuck_apply_and_watches_it_finish(
    live_server: Any, console: int
) -> None:
    user_in(Role.OPERATOR, "oscar")
    apply = crashed_apply(console)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, live_server.url, "oscar")

        stuck = page.locator("#stuck tr", has_text=apply.apply_identifier)
        expect(stuck).to_contain_text("Creating deploy request")
        expect(stuck).to_contain_text("the stale-active clause will claim it")
        stuck.locator(f"a:text('{apply.apply_identifier}')").click()

        expect(page.locator(".verdict__reason")).to_contain_text(
            "in creating_deploy_request → the stale-active clause will claim it"
        )
        expect(page.locator(".engine-live")).to_contain_text("exists and is ready")
        page.click("text=Reclaim…")
        expect(page.locator("h1")).to_contain_text(f"Reclaim {apply.apply_identifier}?")
        page.select_option("select[name=reason_choice]", "driver_gone")
        page.fill("input[name=reason_text]", "INC-9: host-a rebooted")
        page.click("button[type=submit]:text('Reclaim')")

        expect(page.locator(".message--success")).to_contain_text("recovery drive")
        timeline = page.locator("#timeline")
        expect(timeline).to_contain_text("Reclaimed by operator from creating_deploy_request")
        expect(timeline).to_contain_text("INC-9: host-a rebooted")
        # The page refreshes itself while the drive moves the apply on to the end.
        expect(page.locator(".apply-head")).to_contain_text("Completed", timeout=60_000)
        expect(timeline).to_contain_text("completed")
        browser.close()

    row = reload(apply)
    assert row.state == A.COMPLETED and row.lease_owner.startswith("ternadmin-console/oscar")
    ours = ApplyLog.objects.using("schemabot").filter(apply_id=apply.pk, source=LogSource.TERNADMIN)
    # The crashed drive's own `manage.py recover` is audited as a reclaim too ("by <login>
    # (command line)"); the console's reclaim is oscar's.
    assert (
        ours.filter(
            message__startswith="Reclaimed by operator", message__contains="by oscar"
        ).count()
        == 1
    )


def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(
    live_server: Any, console: int
) -> None:
    user_in(Role.VIEWER, "vera")
    apply = crashed_apply(console)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, live_server.url, "vera")
        expect(page.locator("#stuck")).to_contain_text(apply.apply_identifier)
        expect(page.locator("#stuck a.button")).to_have_count(0)
        page.click(f"text={apply.apply_identifier}")
        expect(page.locator(".apply-head")).to_contain_text("Creating deploy request")
        expect(page.locator(".apply-head__actions")).to_have_count(0)

        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        forged = page.request.post(
            f"{live_server.url}/applies/{apply.pk}/reclaim",
            form={
                "seen_state": apply.state,
                "seen_token": apply.lease_token[:8],
                "reason_choice": "driver_gone",
            },
            headers={"X-CSRFToken": csrf, "Referer": f"{live_server.url}/"},
        )
        assert forged.status == 403
        assert "does not have the role" in forged.text()
        browser.close()

    assert reload(apply).lease_token == apply.lease_token


def test_a_reclaim_with_a_stale_token_is_refused(live_server: Any, console: int) -> None:
    user_in(Role.OPERATOR, "olga")
    apply = crashed_apply(console)

    def driver_comes_back() -> None:
        Apply.objects.using("schemabot").filter(pk=apply.pk).update(
            lease_owner="host-a/2/driver-0", lease_token="feedbeef-0000-4000-8000-000000000009"
        )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, live_server.url, "olga")
        page.goto(f"{live_server.url}/applies/{apply.pk}/")
        page.click("text=Reclaim…")
        page.fill("input[name=reason_text]", "INC-10")

        off_the_event_loop(driver_comes_back)
        page.click("button[type=submit]:text('Reclaim')")

        error = page.locator(".message--error")
        expect(error).to_contain_text(
            "Reclaim refused: the driver came back: the lease changed since you loaded the page"
        )
        expect(error).to_contain_text("feedbeef")
        expect(page.locator("#timeline")).not_to_contain_text("by olga")
        browser.close()

    row = reload(apply)
    assert (row.lease_owner, row.state) == ("host-a/2/driver-0", A.CREATING_DEPLOY_REQUEST)
    logs = ApplyLog.objects.using("schemabot").filter(apply_id=apply.pk)
    assert not logs.filter(
        message__startswith="Reclaimed by operator", message__contains="by olga"
    ).exists()
