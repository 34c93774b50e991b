"""In a real browser (Playwright driving Debian's Chromium) on MariaDB: the dashboard says who
claims an apply ternadmin does not drive, raises the alarm when SchemaBot's operator leaves one
claimable too long, and drops it, refreshing itself, once SchemaBot's operator claims it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from applies.models import Apply
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import make_apply
from tests.console_fixtures import user_in
from tests.test_browser_console import CHROMIUM, CHROMIUM_ARGS, log_in, off_the_event_loop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]


def test_the_dashboard_raises_and_drops_the_not_claiming_alarm(
    live_server: Any, settings: Any
) -> None:
    settings.TERNADMIN_UNCLAIMED_ALARM_INTERVALS = 1
    settings.TERNADMIN_SWEEP_INTERVAL_SECONDS = 60
    settings.TERNADMIN_CONSOLE_REFRESH_SECONDS = 1
    user_in(Role.OPERATOR, "vik")
    # Claimable for 70 s (stale after 60 s): longer than one sweep interval, nobody took it.
    left = make_apply(ApplyState.RUNNING, age=130, engine="spirit", database_type="mysql")
    ours = make_apply(ApplyState.VALIDATING_BRANCH, age=65)

    def schemabot_claims_it() -> None:
        Apply.objects.using("schemabot").filter(pk=left.pk).update(
            lease_owner="host-s/1/driver-2", lease_token="5c4b0000-0000-4000-8000-00000000000a"
        )  # MariaDB refreshes updated_at: the heartbeat of the driver that took it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, live_server.url, "vik")

        alarm = page.locator("#schemabot-not-claiming")
        expect(alarm).to_contain_text("SchemaBot's operator is not claiming.")
        expect(alarm).to_contain_text(left.apply_identifier)
        expect(alarm).not_to_contain_text(ours.apply_identifier)
        row = page.locator("#stuck tr", has_text=left.apply_identifier)
        expect(row).to_contain_text(
            "SchemaBot's own operator claims it (ternadmin does not drive spirit)"
        )
        expect(row).to_contain_text("no driver")
        expect(page.locator("#stuck tr", has_text=ours.apply_identifier)).to_contain_text(
            "the stale-active clause will claim it"
        )

        off_the_event_loop(schemabot_claims_it)

        # The dashboard refreshes itself: the alarm and the row go once SchemaBot holds it.
        expect(alarm).to_have_count(0, timeout=15_000)
        expect(page.locator("#stuck")).not_to_contain_text(left.apply_identifier)
        browser.close()
