"""Preview, driven through its handlers: what each page shows after each click."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from widget_guides import EXAMPLE, PIXEL, records

import labelbook as lb
from labelbook.render import render_all
from labelbook_jupyter import Preview
from labelbook_jupyter.sources import open_source


def test_default_records_are_the_worked_examples_and_every_field_renders(guide_path: Path) -> None:
    preview = Preview(guide_path)
    assert preview.error == ""
    assert preview.position.value == "1 of 1"
    page = preview.record.value
    assert "Worked example" in page and "Fix parse.py" in page
    # The trajectory: roles, the tool call's command, the shell step with its output and exit code.
    for shown in ("msg role-user", "msg role-assistant", "tool call <code>bash</code>", "pytest -q",
                  "make build", "error: missing header", "exit code 2", 'class="exit fail"'):  # fmt: skip
        assert shown in page, shown


def test_records_page_by_page(guide_path: Path) -> None:
    preview = Preview(guide_path, records(3))
    assert (preview.position.value, preview.previous.disabled, preview.next.disabled) == (
        "1 of 3",
        True,
        False,
    )
    assert "Fix parse1.py" in preview.record.value
    assert "<strong>Note</strong> 1" in preview.record.value  # markdown field rendered
    assert f'src="{PIXEL}"' in preview.record.value  # image field
    preview.next.click()
    assert preview.position.value == "2 of 3" and "Fix parse2.py" in preview.record.value
    preview.next.click()
    assert (preview.position.value, preview.next.disabled) == ("3 of 3", True)
    preview.next.click()  # disabled in the browser; a scripted click stays on the last page
    assert preview.position.value == "3 of 3"
    preview.previous.click()
    assert preview.position.value == "2 of 3" and "Fix parse2.py" in preview.record.value


def test_every_label_has_its_definition_beside_it(guide_path: Path) -> None:
    preview = Preview(guide_path)
    assert preview.questions is not None
    controls = preview.questions.controls
    assert list(controls) == ["outcome", "issues", "quality", "order", "entities", "rationale"]
    assert preview.labels() == [
        "success",
        "partial",
        "failure",
        "slow",
        "unsafe",
        "1",
        "2",
        "3",
        "first",
        "second",
    ]
    outcome = controls["outcome"].widget.children[1]
    rows = {row.children[0].description: row.children[1].value for row in outcome.children}
    assert "Done and verified by a passing run." in rows["success"]
    assert "Nothing done, or something broken." in rows["failure"]
    quality = controls["quality"].widget.children[1]
    assert "Excellent." in quality.children[2].children[1].value
    assert "Judge the final state." in controls["outcome"].header.value


def test_clicking_a_label_answers_and_a_new_page_clears_it(guide_path: Path) -> None:
    preview = Preview(guide_path, records(2))
    assert preview.questions is not None
    buttons = preview.questions.controls["outcome"].buttons
    buttons["partial"].value = True
    assert preview.questions.form.values == {"outcome": "partial"}
    buttons["failure"].value = True  # one label: the other is released
    assert preview.questions.form.values == {"outcome": "failure"}
    assert not buttons["partial"].value
    assert (buttons["failure"].button_style, buttons["partial"].button_style) == ("info", "")
    buttons["failure"].value = False  # a second click takes the answer back
    assert preview.questions.form.values == {} and buttons["failure"].button_style == ""
    buttons["failure"].value = True
    issues = preview.questions.controls["issues"].buttons
    issues["slow"].value = issues["unsafe"].value = True
    assert preview.questions.form.values["issues"] == ["slow", "unsafe"]
    assert issues["unsafe"].button_style == "info"
    preview.next.click()
    assert preview.questions.form.values == {}
    assert not any(b.value for b in buttons.values())


def test_guidelines_are_the_contractor_page_rendered_when_opened(guide_path: Path) -> None:
    preview = Preview(guide_path)
    assert preview.guidelines.selected_index is None and preview.guidelines.children[0].value == ""
    preview.show_guidelines()
    frame = preview.guidelines.children[0].value
    assert frame.startswith('<iframe class="lb-guide"')
    assert preview.source is not None
    assert preview.source.page == render_all(lb.load(guide_path))["guide.html"]


def test_a_release_shows_its_own_page_and_examples(guide_path: Path) -> None:
    release = lb.release(guide_path, "first")
    preview = Preview(release)
    assert preview.error == "" and f"version {release.version}" in preview.title.value
    assert preview.source is not None and preview.source.page == release.text("guide.html")
    assert "exit code 2" in preview.record.value
    # The notebook itself, unchanged since: the release's version; once edited: "changed since".
    assert open_source(guide_path).version == str(release.version)
    guide_path.write_text(guide_path.read_text().replace("Rate what", "Rate exactly what"))
    assert "changed since the latest release" in Preview(guide_path).title.value


def test_the_example_guide_with_its_records(tmp_path: Path) -> None:
    preview = Preview(EXAMPLE / "guide.ipynb", EXAMPLE / "records.jsonl")
    assert preview.position.value == "1 of 30" and preview.error == ""
    assert "traj-001" in preview.record.value


@pytest.mark.parametrize(
    ("source", "rows", "expected"),
    [
        ("missing.ipynb", None, "missing.ipynb: no such file"),
        ("records.csv", None, "not a guide notebook"),
        (42, None, "cannot show a int"),
        ("GUIDE", [{"prompt": "no trajectory"}], "no column for required field 'trajectory'"),
        ("GUIDE", "nowhere.jsonl", "nowhere.jsonl: no such file"),
        ("GUIDE", [], "no records to show"),
    ],
)
def test_bad_input_is_a_message_in_the_widget(
    guide_path: Path, source: object, rows: object, expected: str
) -> None:
    preview = Preview(guide_path if source == "GUIDE" else source, rows)
    assert expected in preview.error
    assert html.escape(expected) in preview.message.value and "lb-error" in preview.message.value
    assert "Traceback" not in preview.message.value


def test_a_record_with_a_bad_value_says_so_on_its_page(guide_path: Path) -> None:
    rows = records(2)
    rows[1]["trajectory"] = json.dumps([{"content": "no role"}])
    preview = Preview(guide_path, rows)
    assert preview.error == ""
    preview.next.click()
    assert "row 2 of the records list" in preview.error and "needs a non-empty 'role'" in preview.error
    assert "lb-warning" in preview.message.value
    preview.previous.click()
    assert preview.error == "" and preview.message.value == ""
