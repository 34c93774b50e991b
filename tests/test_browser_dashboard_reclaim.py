"""In a real browser (Playwright driving Debian's Chromium) on MariaDB: the dashboard reclaims
an apply that holds no lease, a queued ``pending`` PlanetScale apply, by its Reclaim link and
by its check box. What the operator saw of the empty lease token goes back empty, never as the
dash the page prints in its place (which was refused as "the driver came back").

Drives are left queued (``TERNADMIN_DRIVE_MODE=manual``): the test is about the claim and its
audit row, not the drive.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from applies.models import Apply, ApplyLog, Drive
from applies.roles import Role
from applies.states import ApplyState
from applies.vocabulary import LogSource
from tests.claim_fixtures import FRESH, make_apply, reload
from tests.console_fixtures import user_in
from tests.test_browser_console import CHROMIUM, CHROMIUM_ARGS, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

A = ApplyState
REASON = "INC-11: the queue is stuck"


@pytest.fixture
def operator(settings: Any) -> str:
    settings.TERNADMIN_DRIVE_MODE = "manual"  # the claim records a queued drive; none runs
    settings.TERNADMIN_CONSOLE_REFRESH_SECONDS = 0  # the page stays as loaded while we click
    return user_in(Role.OPERATOR, "quinn").get_username()


def queued_apply() -> Apply:
    """Pending with a task and an operation row, never leased: the queued clause takes it."""
    apply = make_apply(A.PENDING, age=FRESH)
    assert (apply.engine, apply.lease_token) == ("planetscale", "")
    return apply


def give_reason(page: Page) -> None:
    page.select_option("select[name=reason_choice]", "other")
    page.fill("input[name=reason_text]", REASON)


def assert_reclaimed(apply: Apply, who: str) -> None:
    row = reload(apply)
    assert row.state == A.RUNNING
    assert row.lease_owner == f"ternadmin-console/{who}" and row.lease_token
    (log,) = ApplyLog.objects.using("schemabot").filter(
        apply_id=apply.pk, source=LogSource.TERNADMIN
    )
    assert log.message == f"Reclaimed by operator from pending (by {who}: {REASON})"
    assert (log.old_state, log.new_state) == (A.PENDING, A.RUNNING)
    assert log.metadata["new_lease"] == row.lease_token[:8]
    drive = Drive.objects.get(apply_id=apply.pk)
    queued = Drive.Outcome.QUEUED
    assert (drive.trigger, drive.requested_by, drive.outcome) == ("console", who, queued)


def test_the_reclaim_link_of_a_queued_apply(live_server: Any, operator: str) -> None:
    apply = queued_apply()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, live_server.url, operator)

        row = page.locator("#stuck tr", has_text=apply.apply_identifier)
        expect(row).to_contain_text("the queued clause")
        row.locator("a:text('Reclaim…')").click()
        expect(page.locator("h1")).to_contain_text(f"Reclaim {apply.apply_identifier}?")
        expect(page.locator(".alert--error")).to_have_count(0)  # "changed since you loaded"
        give_reason(page)
        page.click("button[type=submit]:text('Reclaim')")

        expect(page.locator(".message--success")).to_contain_text(
            f"Reclaimed {apply.apply_identifier} from pending"
        )
        expect(page.locator(".message--error")).to_have_count(0)
        expect(page.locator("#timeline")).to_contain_text("Reclaimed by operator from pending")
        browser.close()
    assert_reclaimed(apply, operator)


def test_the_check_box_of_a_queued_apply(live_server: Any, operator: str) -> None:
    apply = queued_apply()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, live_server.url, operator)

        row = page.locator("#stuck tr", has_text=apply.apply_identifier)
        row.locator("input[name=item]").check()
        page.click("button:text('Reclaim selected…')")
        expect(page.locator("h1")).to_contain_text("Reclaim 1 apply?")
        expect(page.locator(".message--error")).to_have_count(0)  # the selection was readable
        give_reason(page)
        page.click("button[type=submit]:text('Reclaim 1')")

        expect(page.locator("h1")).to_have_text("Dashboard")
        expect(page.locator(".message--success")).to_contain_text(
            f"Reclaimed {apply.apply_identifier} from pending"
        )
        expect(page.locator(".message--error")).to_have_count(0)
        browser.close()
    assert_reclaimed(apply, operator)
