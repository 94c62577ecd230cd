"""The contractor guide built from the example renders in Chromium: one self-contained, navigable page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import labelbook as lb
from labelbook.render import render_all

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).parents[2] / "examples" / "trajectory-rating" / "guide.ipynb"


@pytest.fixture
def guide_html(tmp_path: Path) -> Path:
    path = tmp_path / "guide.html"
    path.write_text(render_all(lb.load(EXAMPLE))["guide.html"], encoding="utf-8")
    return path


def test_contractor_guide_renders_and_navigates(page: Page, guide_html: Path) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(guide_html.as_uri())

    assert page.title().startswith("Rating agent trajectories")
    assert page.get_by_role("heading", name="Rating agent trajectories", level=1).is_visible()
    # The glossary defines every label of the outcome question.
    glossary = page.locator("#glossary")
    for label in ("success", "partial", "failure"):
        assert glossary.get_by_text(label, exact=True).first.is_visible()
    # The contents sidebar links to sections on the same page.
    page.get_by_role("navigation").get_by_role("link", name="Partial", exact=True).click()
    assert page.evaluate("location.hash") == "#partial"
    assert page.locator("#partial").is_visible()
    # Self-contained: nothing but the file itself was fetched, and no script errors.
    assert requests == [guide_html.as_uri()]
    assert errors == []
