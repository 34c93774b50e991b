"""The API's docs page in a real browser, under the console's strict Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from applies.roles import Role
from tests.console_fixtures import user_in
from tests.test_browser_console import CHROMIUM, CHROMIUM_ARGS, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=["default", "schemabot"]),
]


def test_the_docs_page_renders_every_endpoint_without_breaking_the_policy(
    live_server: Any,
) -> None:
    user_in(Role.VIEWER, "vic")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        outside: list[str] = []
        page.on(
            "request",
            lambda request: (
                outside.append(request.url)
                if not request.url.startswith((live_server.url, "data:"))
                else None
            ),
        )
        log_in(page, live_server.url, "vic")
        page.goto(f"{live_server.url}/api/v1/docs")
        expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any(path.replace("\u200b", "") == "/api/v1/dashboard" for path in paths), paths
        assert len(paths) == 9, paths
        expect(page.get_by_text("ternadmin API").first).to_be_visible()
        browser.close()
    assert violations == []
    assert outside == []
