"""A person who mistypes their password too often sees why they cannot log in, and for how long."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from applies.roles import Role
from tests.console_fixtures import PASSWORD, user_in
from tests.test_browser_console import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]


def test_the_login_page_says_logins_are_locked(live_server: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    user_in(Role.VIEWER, "vic")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        for attempt in range(3):
            page.fill("input[name=username]", "vic")
            page.fill("input[name=password]", f"not-it-{attempt}")
            page.click("button[type=submit]")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Too many failed logins")
        expect(alert).to_contain_text("locked for 15m")
        page.fill("input[name=username]", "vic")
        page.fill("input[name=password]", PASSWORD)  # the right one: still locked
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")
        assert page.url.startswith(f"{live_server.url}/accounts/login/")
        browser.close()
