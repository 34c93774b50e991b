"""A deploy request URL from resume metadata or the engine is a link only to PlanetScale's app."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from applies.models import ApplyOperation
from applies.roles import Role
from applies.states import ApplyState
from applies.templatetags.console import engine_link
from tests.claim_fixtures import make_apply
from tests.console_fixtures import client_for

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

GOOD = "https://app.planetscale.com/acme/orders/deploy-requests/17"


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        (GOOD, True),
        ("javascript:alert(document.cookie)", False),
        ("JavaScript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("http://app.planetscale.com/acme/orders/deploy-requests/17", False),
        ("https://evil.example/acme/orders/deploy-requests/17", False),
        ("https://app.planetscale.com.evil.example/x", False),
        ("https://app.planetscale.com@evil.example/x", False),
        ("https://app.planetscale.com:8443/x", False),
        ("//app.planetscale.com/x", False),
        ("https://[::1/x", False),
    ],
)
def test_only_https_links_to_the_planetscale_app_are_links(url: str, linked: bool) -> None:
    apply = make_apply(ApplyState.CREATING_DEPLOY_REQUEST)
    metadata = {"deploy_request_id": 17, "deploy_request_url": url}
    ApplyOperation.objects.filter(apply_id=apply.pk).update(engine_resume_metadata=metadata)
    client: Client = client_for(Role.VIEWER)
    page = client.get(f"/applies/{apply.pk}/").content.decode()
    hrefs = [html.unescape(href) for href in re.findall(r'<a [^>]*href="([^"]*)"', page)]
    assert (url in hrefs) is linked, hrefs
    assert not any(
        href.lower().replace("\t", "").startswith(("javascript:", "data:")) for href in hrefs
    )


def test_the_app_host_is_a_setting(settings: object) -> None:
    settings.PLANETSCALE_APP_HOST = "planetscale.internal"  # type: ignore[attr-defined]
    assert "<a " in engine_link("https://planetscale.internal/x")
    assert "<a " not in engine_link(GOOD)
