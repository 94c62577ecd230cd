"""Disagreements over a quality report, and the Monitor's tables, from a tidy frame in memory."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
from widget_guides import EXAMPLE

import labelbook as lb
import labelbook.annotations as tidy
from labelbook import quality
from labelbook_jupyter import Disagreements
from labelbook_jupyter.monitor import annotators_html, per_hour_svg, summarize

START = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
# record → each annotator's outcome; the rationale says why.
ANSWERS = {
    "traj-001": ["partial", "partial", "success"],
    "traj-002": ["failure", "failure", "failure"],
    "traj-003": ["success", "partial", "failure"],
    "traj-004": ["success", "success", "success"],
}
PEOPLE = [("ann-a", "acme"), ("ann-b", "acme"), ("ann-c", "bright")]


def frame() -> pd.DataFrame:
    cols: dict[str, list[Any]] = {name: [] for name in tidy.COLUMNS}
    for i, (record, labels) in enumerate(ANSWERS.items()):
        for k, ((person, vendor), label) in enumerate(zip(PEOPLE, labels, strict=True)):
            for question, value in (("outcome", label), ("rationale", f"{person} thinks {label}")):
                cols["record_id"].append(record)
                cols["argilla_record_id"].append(f"uuid-{i}")
                cols["question"].append(question)
                cols["annotator"].append(person)
                cols["vendor"].append(vendor)
                cols["value"].append(value)
                cols["status"].append("submitted")
                cols["submitted_at"].append((START + timedelta(minutes=25 * i + k)).isoformat())
                cols["release"].append("1.0.0")
                cols["is_gold"].append(record == "traj-003")
    return tidy.frame(cols)


@pytest.fixture(scope="module")
def report() -> Any:
    guide = lb.load(EXAMPLE / "guide.ipynb")
    gold = pd.DataFrame([{"record_id": "traj-003", "question": "outcome", "value": "success"}])
    return guide, quality.report(frame(), guide=guide, gold=gold, n_boot=20)


def test_contested_records_one_at_a_time_with_the_rules_that_decide_them(report: Any) -> None:
    guide, made = report
    widget = Disagreements(made, guide=guide)
    assert widget.error == "" and widget.position.value == "1 of 2"
    first = widget.current
    assert first is not None and first.record_id == "traj-003"  # three different answers: most contested
    page = widget.case.value
    for shown in ("ann-a", "ann-b", "ann-c", "ann-c thinks failure", "<b>success</b>", "disagreement 0.67"):
        assert shown in page, shown
    # The labels' definitions and the guideline text contrasting them (the report's mapping).
    assert "Every part of the instruction is done" in page
    assert first.rules and all(text for _, text in first.rules)
    assert "Rules that should decide it" in page and first.rules[0][0] in page
    assert first.sections and first.sections[0][1] in page
    widget.next.click()
    assert widget.position.value == "2 of 2" and widget.current is not None
    assert widget.current.record_id == "traj-001" and sorted(widget.labels()) == [
        "partial",
        "partial",
        "success",
    ]
    assert widget.next.disabled


def test_a_report_alone_still_maps_to_section_and_rule_ids(report: Any) -> None:
    _, made = report
    widget = Disagreements(made)
    assert widget.current is not None and widget.current.sections
    assert f"#{widget.current.sections[0][0]}" in widget.case.value
    assert "The record's fields were not pulled" in widget.record.value


def test_no_contested_records_and_bad_input_are_messages() -> None:
    calm = frame()
    calm = calm[calm["record_id"].isin(["traj-002", "traj-004"])]
    guide = lb.load(EXAMPLE / "guide.ipynb")
    widget = Disagreements(quality.report(calm, guide=guide, n_boot=10), guide=guide)
    assert "No contested records" in widget.message.value
    assert "not a int" in Disagreements(3).error


def test_monitor_tables_from_a_frame() -> None:
    gold = pd.DataFrame([{"record_id": "traj-003", "question": "outcome", "value": "success"}])
    snapshot = summarize(frame(), gold, {"total": 10, "completed": 4, "pending": 6})
    table = snapshot.annotators
    assert list(table.index) == ["ann-a", "ann-b", "ann-c"]
    assert table.loc["ann-a", "gold_accuracy"] == 1.0 and table.loc["ann-b", "gold_accuracy"] == 0.0
    page = annotators_html(table)
    assert page.count("<tr>") == 4 and "ann-c" in page and "bright" in page
    assert snapshot.vendors is not None and set(snapshot.vendors.index) == {"acme", "bright"}
    assert snapshot.per_hour.tolist() == [9, 3]  # 4 records x 3 people over two hours
    assert per_hour_svg(snapshot.per_hour).count("<rect") == 2
