"""One manual fix end to end in a real browser: log in, open the apply, fix its state with a
reason, see the success message and the audit row (Playwright driving Debian's Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from applies.models import ApplyLog
from applies.roles import Role
from applies.states import ApplyState
from applies.vocabulary import LogSource
from tests.claim_fixtures import STALE, make_apply, reload
from tests.factories import set_heartbeat_age
from tests.test_admin import staff_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "tern-admin-browser-42!"


def test_an_admin_fixes_a_wedged_apply_in_the_browser(live_server: Any) -> None:
    staff_user(Role.ADMIN, "ada", password=PASSWORD)
    apply = make_apply(ApplyState.RUNNING, age=STALE)
    set_heartbeat_age(apply, STALE, lease_owner="host-7/4242/driver-1", lease_token="d" * 36)
    apply = reload(apply)

    # No ORM calls while Playwright's sync API runs its event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/login/?next=/admin/applies/apply/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")

        page.click(f"text={apply.apply_identifier}")
        expect(page.locator("h2", has_text="ternadmin audit history")).to_be_visible()
        page.click("text=Fix state")
        expect(page.locator("h1")).to_have_text(f"Fix the state of {apply.apply_identifier}")
        page.select_option("#id_new_state", "failed")
        page.select_option("#id_reason", "driver_died")
        page.fill("#id_details", "INC-7: host-7 was decommissioned")
        page.click("input[type=submit][value='Fix state']")

        success = page.locator(".messagelist .success")
        expect(success).to_contain_text("running → failed")
        expect(success).to_contain_text("heartbeat kept")
        history = page.locator("#audit-history")
        expect(history).to_contain_text("INC-7: host-7 was decommissioned")
        expect(history).to_contain_text("running → failed")
        expect(history).to_contain_text("ada")
        browser.close()

    row = reload(apply)
    assert (row.state, row.lease_token, row.updated_at) == ("failed", "", apply.updated_at)
    [log] = ApplyLog.objects.filter(apply_id=apply.pk, source=LogSource.TERNADMIN)
    reason = "Its driver died and left it wedged: INC-7: host-7 was decommissioned"
    assert (log.metadata or {})["reason"] == reason
