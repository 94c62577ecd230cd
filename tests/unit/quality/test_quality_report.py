"""The disagreement report on the simulated crowd: the ambiguous pair on top, pointing at its section."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from quality_simulation import PAIR, RATES, Crowd

from labelbook import quality
from labelbook.errors import LabelbookError


@pytest.fixture(scope="module")
def made(crowd: Crowd) -> quality.Report:
    return quality.report(
        crowd.frame, guide=crowd.guide, gold=crowd.gold, rates=RATES, record_url="https://a/{record_id}"
    )


def test_the_ambiguous_pair_is_the_top_confusion_and_points_at_its_section(made: quality.Report) -> None:
    top = made.confusions.iloc[0]
    assert {top["label_a"], top["label_b"]} == set(PAIR)
    assert top["sections"][0] == "partial-or-failure"
    assert top["rules"] == ["R-partial-progress", "R-made-worse"]
    assert top["contrasted"]
    assert made.confusions["rate"].sum() == pytest.approx(1)
    assert made.sections.iloc[0]["section_id"] == "partial-or-failure"
    # Pairs no section contrasts are findings too: a section to write.
    assert made.sections["section_id"].str.startswith("(none:").any()


def test_report_tables(made: quality.Report, crowd: Crowd) -> None:
    assert made.agreement["question"].tolist() == ["outcome"]  # the rationale is free text
    assert set(made.by_release["release"]) == {"1.0.0", "1.1.0"}
    assert made.by_release.set_index("release").loc["1.0.0", "gold_n"] > 0
    assert made.annotators.loc["cheap-spam", "flagged"]
    assert made.vendors is not None and made.vendors.index.tolist() == ["acme", "bright", "cheap"]
    first = made.contested.iloc[0]
    assert first["disagreement"] > 0.5 and first["url"] == f"https://a/{first['record_id']}"
    # Each answer comes with the rationale its annotator wrote.
    assert all(answer["rationale"].startswith(answer["annotator"]) for answer in first["answers"])


def test_html_is_self_contained(made: quality.Report, tmp_path: Path) -> None:
    page = made.to_html()
    assert 'sandbox=""' in made._repr_html_() and "&lt;svg" in made._repr_html_()
    assert "<script" not in page
    assert not re.search(r'(?:src|href)="(?!https://a/|#)[a-z]+:', page)  # nothing fetched from anywhere
    assert page.count("<svg") == 2  # the confusion matrix and agreement per release
    assert "R-partial-progress" in page and "Partial or failure?" in page
    path = made.write(tmp_path / "report.html")
    assert path.read_text(encoding="utf-8") == page


def test_report_without_guide_or_gold(crowd: Crowd) -> None:
    made = quality.report(crowd.frame)
    assert made.sections.empty and made.confusions["sections"].map(len).eq(0).all()
    assert "<svg" in made.to_html()


def test_report_refuses_unknown_labels(crowd: Crowd) -> None:
    frame = crowd.frame.copy()
    frame.loc[0, "value"] = "succes"
    with pytest.raises(LabelbookError, match=r"'succes'.*not among its labels"):
        quality.report(frame, guide=crowd.guide)


def test_report_on_bad_frames() -> None:
    with pytest.raises(LabelbookError, match="'question'"):
        quality.report(pd.DataFrame({"record_id": ["r"], "annotator": ["a"], "value": ["x"]}))
    empty = pd.DataFrame(columns=["record_id", "annotator", "question", "value", "status"])
    made = quality.report(empty)
    assert made.agreement.empty and made.confusions.empty and "No record has two answers" in made.to_html()
