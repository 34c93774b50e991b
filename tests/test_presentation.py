"""One presentation layer: one badge renderer, colours only in the stylesheet."""

from __future__ import annotations

import re

from applies import presentation
from applies.classify import Classification, Verdict
from applies.states import Badge
from tests.helpers import REPO_ROOT

BADGES_CSS = REPO_ROOT / "static" / "ternadmin" / "badges.css"


def test_badges_name_what_they_show() -> None:
    assert presentation.state_badge("creating_deploy_request") == (
        '<span class="badge badge--setup" title="creating_deploy_request: A driver works it; '
        'once its heartbeat is stale the stale-active clause reclaims it.">'
        "Creating deploy request</span>"
    )
    assert 'class="badge badge--unknown"' in presentation.state_badge("teleporting")
    assert "Unknown (teleporting)" in presentation.state_badge("teleporting")
    assert 'class="badge badge--done"' in presentation.task_badge("completed")
    verdict = Classification(
        1, "apply-1", "running", "planetscale", Verdict.WEDGED, None, "why", 0, None
    )
    assert presentation.verdict_badge(verdict) == (
        '<span class="badge badge--wedged" title="why">Wedged</span>'
    )
    assert presentation.verdict_badge(None) == ""
    assert (presentation.ago(None), presentation.ago(252)) == ("—", "4m12s")


def test_every_badge_has_its_colour_in_the_stylesheet() -> None:
    styled = set(re.findall(r"\.badge--([a-z_]+)", BADGES_CSS.read_text()))
    assert {badge.value for badge in Badge} <= styled
    assert {verdict.value for verdict in Verdict} <= styled


def test_no_colour_in_python_or_templates() -> None:
    """Colours are the stylesheets' (static/ternadmin/): nothing else styles a page."""
    css = re.compile(r"\b(?:color|background)\s*:|rgba?\(|hsla?\(", re.I)
    hex_colour = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
    for path in (REPO_ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert "<style" not in text and "style=" not in text, path
        assert not css.search(text) and not hex_colour.search(text), path
    for package in ("applies", "ternadmin", "localscale"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            assert not css.search(path.read_text()), path
