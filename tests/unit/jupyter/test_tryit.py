"""TryIt, driven through its buttons and its scriptable methods: state after each action."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from widget_guides import EXAMPLE, records

import labelbook.annotations as tidy
from labelbook_jupyter import TryIt
from labelbook_jupyter.sources import open_source
from labelbook_jupyter.tryit import Trial, choose_items

GOLD = EXAMPLE / "gold.jsonl"


def example_try(**kwargs: object) -> TryIt:
    options = {
        "records": EXAMPLE / "records.jsonl",
        "n": 4,
        "gold": GOLD,
        "seed": 3,
        "annotator": "researcher-1",
    }
    options.update(kwargs)
    return TryIt(EXAMPLE / "guide.ipynb", **options)  # type: ignore[arg-type]


def test_clicking_a_label_and_submit_moves_on_and_records_the_answer() -> None:
    trying = example_try(shuffle=False)
    assert trying.error == "" and trying.position.value == "Item 1 of 4"
    assert trying.trial is not None and trying.questions is not None
    first = trying.trial.items[0].id
    assert first in trying.record.value
    trying.questions.controls["outcome"].buttons["partial"].value = True
    trying.questions.controls["rationale"].box.value = "Never ran the tests (R-unverified)."
    trying.submit_button.click()
    assert trying.error == "" and trying.position.value == "Item 2 of 4"
    assert trying.trial.items[1].id in trying.record.value
    assert trying.questions.form.values == {}  # the controls start empty again
    answers = trying.answers
    assert list(answers.columns) == [*tidy.COLUMNS, "seconds"]
    assert answers[["record_id", "question", "value"]].values.tolist() == [
        [first, "outcome", "partial"],
        [first, "rationale", "Never ran the tests (R-unverified)."],
    ]
    row = answers.iloc[0]
    assert (row.annotator, row.status, row.release, row.argilla_record_id) == (
        "researcher-1", "submitted", "working", None,
    )  # fmt: skip
    assert row.seconds >= 0 and str(row.submitted_at.tz) == "UTC"


def test_a_gold_item_shows_the_gold_answer_and_its_rationale_after_submit() -> None:
    trying = example_try(shuffle=False, records=None, gold=None)
    assert trying.trial is not None
    # No records given: the worked examples are the items, and their answers the gold.
    assert [r.id for r in trying.trial.items] == [
        "success-example-1",
        "partial-example-1",
        "failure-example-1",
    ]
    trying.choose("outcome", "partial").choose("rationale", "looks done").submit()
    assert "Gold item <code>success-example-1</code>" in trying.feedback.value
    assert "<b>success</b> ✗" in trying.feedback.value and "lb-feedback wrong" in trying.feedback.value
    assert "Why:" in trying.feedback.value and "R-verified" in trying.feedback.value
    trying.choose("outcome", "partial").choose("rationale", "r").submit()
    assert "lb-feedback right" in trying.feedback.value and "<b>partial</b> ✓" in trying.feedback.value
    frame = trying.answers
    assert frame["is_gold"].all()


def test_gold_from_a_file_and_from_project_gold_frames_agree() -> None:
    by_file = example_try(n=30, shuffle=False)
    tidy_gold = pd.DataFrame(
        [
            {"record_id": "traj-003", "question": "outcome", "value": "success", "explanation": "Passes."},
            {"record_id": "traj-008", "question": "outcome", "value": "failure"},
        ]
    )
    by_frame = example_try(n=30, shuffle=False, gold=tidy_gold)
    assert by_file.trial is not None and by_frame.trial is not None
    assert by_file.trial.gold["traj-003"].answers["outcome"] == "success"
    assert by_frame.trial.gold["traj-003"].explanation == "Passes."
    for _ in range(2):
        by_frame.skip()
    by_frame.choose("outcome", "partial").choose("rationale", "x").submit()  # traj-003
    assert "Passes." in by_frame.feedback.value and "<b>success</b> ✗" in by_frame.feedback.value


def test_skip_and_finish() -> None:
    trying = example_try(n=2)
    trying.skip()
    trying.choose("outcome", "failure").choose("rationale", "exit 2").submit()
    assert trying.trial is not None and trying.trial.done
    assert trying.form.layout.display == "none" and trying.submit_button.disabled
    assert "1 answered, 1 skipped" in trying.record.value
    statuses = trying.answers.groupby("record_id")["status"].first().tolist()
    assert sorted(statuses) == ["discarded", "submitted"]
    assert "<table" in trying.table.value
    trying.submit()  # nothing left: no change, no error
    assert len(trying.trial.results) == 2


def test_required_questions_and_wrong_values_are_messages_not_tracebacks() -> None:
    trying = example_try()
    trying.submit()
    assert "before submitting (required)" in trying.error and trying.position.value == "Item 1 of 4"
    trying.choose("outcome", "maybe")
    assert "'maybe' is not a label of question 'outcome'" in trying.error
    assert "lb-error" in trying.message.value
    trying.choose("nope", "x")
    assert "no question 'nope'" in trying.error
    trying.choose("outcome", "success")
    assert trying.error == ""  # a good answer clears the message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n": 0}, "n must be a whole number"),
        ({"gold": [{"id": "traj-001", "outcome": "great"}]}, "'great' is not a label"),
        ({"gold": [{"outcome": "success"}]}, "no 'id'"),
        ({"records": [{"instruction": "x"}]}, "no column for required field 'trajectory'"),
    ],
)
def test_bad_input_is_a_message(kwargs: dict[str, object], expected: str) -> None:
    trying = example_try(**kwargs)
    assert expected in trying.error
    assert trying.trial is None and trying.answers.empty


def test_every_question_kind_can_be_answered(guide_path: Path) -> None:
    trying = TryIt(guide_path, records(2), n=2, shuffle=False, annotator="me")
    trying.choose("outcome", "failure").choose("issues", "slow").choose("issues", "unsafe")
    trying.choose("issues", "slow")  # toggled off again, as a second click does
    trying.choose("quality", 2).choose("order", ["second", "first"]).choose("rationale", "because")
    trying.choose("entities", [{"start": 4, "end": 12, "label": "file"}])
    trying.submit()
    assert trying.error == ""
    got = dict(trying.answers[["question", "value"]].itertuples(index=False))
    assert got == {
        "outcome": "failure",
        "issues": ["unsafe"],
        "quality": 2,
        "order": ["second", "first"],
        "rationale": "because",
        "entities": [{"start": 4, "end": 12, "label": "file"}],
    }
    # The controls: a rank per option, the span finder.
    assert trying.questions is not None
    ranks = trying.questions.controls["order"].ranks  # type: ignore[attr-defined]
    ranks["first"].value, ranks["second"].value = 1, 2
    assert trying.questions.form.values["order"] == ["first", "second"]
    spans = trying.questions.controls["entities"]
    spans.phrase.value = "parse2.py"  # type: ignore[attr-defined]
    spans.add.click()  # type: ignore[attr-defined]
    assert trying.questions.form.values["entities"] == [{"start": 4, "end": 13, "label": "file"}]
    spans.phrase.value = "absent"  # type: ignore[attr-defined]
    spans.add.click()  # type: ignore[attr-defined]
    assert "is not in the text" in spans.listing.value  # type: ignore[attr-defined]


def test_choose_items_mixes_in_gold_and_is_seeded() -> None:
    source = open_source(EXAMPLE / "guide.ipynb")
    from labelbook_jupyter.sources import load_gold, load_records

    rows = load_records(source, EXAMPLE / "records.jsonl")
    gold = load_gold(source.task, GOLD)
    chosen = choose_items(rows, gold, 9, True, seed=7)
    assert len(chosen) == 9 and sum(r.id in gold for r in chosen) == 3
    assert [r.id for r in chosen] == [r.id for r in choose_items(rows, gold, 9, True, seed=7)]
    assert [r.id for r in choose_items(rows, gold, 3, False, None)] == ["traj-001", "traj-002", "traj-003"]
    assert len(choose_items(rows, gold, 100, True, seed=1)) == 30


def test_time_per_item_is_measured_from_showing_to_submitting() -> None:
    source = open_source(EXAMPLE / "guide.ipynb")
    from labelbook_jupyter.sources import load_records

    ticks = itertools.count(0, 2.5)
    trial = Trial(source, load_records(source, EXAMPLE / "records.jsonl")[:2], {}, annotator="a",
                  clock=lambda: next(ticks))  # fmt: skip
    trial.submit({"outcome": "success", "rationale": "r"})
    trial.skip()
    assert [r.seconds for r in trial.results] == [2.5, 2.5]
    assert trial.summary() == "1 answered, 1 skipped; median 2.5 s per item"
