"""The quality report of the example project renders in Chromium: one self-contained page with its plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import labelbook as lb
from labelbook import quality

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).parents[2] / "examples" / "trajectory-rating" / "guide.ipynb"
OUTCOMES = ["success", "partial", "failure"]


@pytest.fixture
def report_html(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        truth = OUTCOMES[i % 3]
        for k, name in enumerate(["ann-a", "ann-b", "ann-c"]):
            answer = (
                truth
                if rng.random() < (0.9, 0.8, 0.5)[k]
                else ("failure" if truth == "partial" else "partial")
            )
            base = {"record_id": f"traj-{i:03d}", "annotator": name, "vendor": "acme" if k < 2 else "bright"}
            base.update(status="submitted", release="1.0.0" if i < 30 else "1.1.0", is_gold=i < 10)
            base["submitted_at"] = pd.Timestamp("2025-05-01T09:00:00Z") + pd.Timedelta(minutes=i + 60 * k)
            rows.append({**base, "question": "outcome", "value": answer})
            rows.append(
                {**base, "question": "rationale", "value": f"{name}: the last test run (R-final-state)"}
            )
    frame = pd.DataFrame(rows)
    gold = pd.DataFrame({"record_id": [f"traj-{i:03d}" for i in range(10)], "question": "outcome"})
    gold["value"] = [OUTCOMES[i % 3] for i in range(10)]
    made = quality.report(frame, guide=lb.load(EXAMPLE), gold=gold, rates={"acme": 20.0, "bright": 15.0})
    return made.write(tmp_path / "report.html")


def test_quality_report_renders_self_contained(page: Page, report_html: Path) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report_html.as_uri())

    assert page.title() == "Rating agent trajectories: annotation quality"
    for heading in (
        "Agreement",
        "Confusions",
        "Sections to revise",
        "By release",
        "Contested records",
        "Vendors",
    ):
        assert page.get_by_role("heading", name=heading, level=2).is_visible()
    # Both plots are drawn (inline SVG with a real size): the confusion matrix and alpha per release.
    plots = page.locator("svg")
    assert plots.count() == 2
    for index in range(2):
        box = plots.nth(index).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
    # The top confusion points at a section of the guide that contrasts partial and failure.
    first = page.locator("#confusions ~ table").first.locator("tr").nth(1)
    assert "failure / partial" in first.inner_text() and "#partial" in first.inner_text()
    assert requests == [report_html.as_uri()]
    assert errors == []
