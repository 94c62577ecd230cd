"""Gold records stay indistinguishable: suggestion tells and the upload order of each publish."""

from __future__ import annotations

from typing import Any

import pytest

import labelbook as lb
from labelbook.argilla.gold import spread, suggestion_tells
from labelbook.argilla.records import prepare

TASK = lb.Task(
    name="t",
    fields=[lb.TextField("text")],
    questions=[
        lb.LabelQuestion("label", labels={"a": "the first", "b": "the second"}),
        lb.TextQuestion("why", required=False),
    ],
)
GOLD = {"g1": {"label": "a", "why": "expert reason 1"}, "g2": {"label": "b"}, "g3": {"label": "a"}}


def tells(rows: list[dict[str, Any]], gold: dict[str, dict[str, Any]] = GOLD, **kwargs: Any) -> list[str]:
    prepared = prepare(TASK, rows, **kwargs)
    return suggestion_tells(TASK, prepared.ids, prepared.payloads, gold)


def regular(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "text": f"t{i}", **extra} for i in range(n)]


def golden(**extra: Any) -> list[dict[str, Any]]:
    return [{"id": g, "text": f"gold {g}", **extra} for g in GOLD]


def test_suggestions_alike_on_gold_and_other_rows_are_no_tell() -> None:
    assert tells(regular(10, **{"label.suggestion": "b"}) + golden(**{"label.suggestion": "b"})) == []
    assert tells(regular(10) + golden()) == []

    def model(fields: Any) -> dict[str, Any]:
        return {"label": "b" if fields["text"].endswith("1") else "a"}

    assert tells(regular(10) + golden(), suggest=model) == []  # one model on every row


def test_suggestions_on_every_regular_row_but_no_gold_row_are_a_tell() -> None:
    found = tells(regular(10, **{"label.suggestion": "a"}) + golden())
    assert len(found) == 1
    assert "'label' has a suggestion on 0% of the gold records but on 100% of the others" in found[0]


def test_a_suggest_callable_that_skips_gold_rows_is_a_tell() -> None:
    def model(fields: Any) -> dict[str, Any]:
        return {} if fields["text"].startswith("gold") else {"label": "a"}

    assert "0% of the gold records" in tells(regular(10) + golden(), suggest=model)[0]


def test_an_agent_seen_on_gold_rows_only_is_a_tell() -> None:
    rows = regular(10, **{"label.suggestion": "a", "label.suggestion.agent": "model-1"})
    rows += golden(**{"label.suggestion": "a", "label.suggestion.agent": "expert"})
    assert any("suggestions by expert appear on gold records only" in t for t in tells(rows))


def test_suggestions_equal_to_the_gold_answers_are_a_tell() -> None:
    rows = regular(10, **{"label.suggestion": "b"})
    rows += [{"id": g, "text": g, "label.suggestion": answers["label"]} for g, answers in GOLD.items()]
    found = tells(rows)
    assert found == [
        "question 'label': the suggestion equals the expert answer on 3 of 3 gold records: if the "
        "suggestions were made from the gold answers, contractors copy them and gold accuracy measures "
        "nothing. Make suggestions without the gold answers."
    ]
    # A free-text answer copied once is enough; a label that agrees on 2 of 3 is not a tell.
    rows = regular(10, **{"why.suggestion": "model text"}) + golden(**{"why.suggestion": "model text"})
    rows[-3]["why.suggestion"] = "expert reason 1"
    assert any("'why': the suggestion equals the expert answer on 1 of 1" in t for t in tells(rows))
    rows = regular(10, **{"label.suggestion": "b"}) + golden(**{"label.suggestion": "a"})
    assert tells(rows) == []  # a, a match g1 and g3; b for g2 does not


@pytest.mark.parametrize(
    ("new", "rate", "placed_gold", "held"),
    [
        (["r1", "r2", "r3", "r4", "g1", "g2"], None, 2, []),  # later gold sits among the new rows
        (["g1", "g2"], None, 0, ["g1", "g2"]),  # no new regular record: gold waits
        (["r1", "g1", "g2", "g3"], None, 1, ["g2", "g3"]),  # never more gold than regular records
        ([f"r{i}" for i in range(19)] + ["g1", "g2", "g3"], 0.05, 1, ["g2", "g3"]),  # the rate caps it
    ],
)
def test_each_publish_spreads_its_new_gold_among_its_new_regular_records(
    new: list[str], rate: float | None, placed_gold: int, held: list[str]
) -> None:
    order, kept_back = spread(new, {"g1", "g2", "g3"}, rate)
    assert kept_back == held
    gold_at = [i for i, record in enumerate(order) if record.startswith("g")]
    assert len(gold_at) == placed_gold
    # Every gold record is followed by a regular one: none sits at the end of what is inserted.
    assert all(i + 1 < len(order) and order[i + 1].startswith("r") for i in gold_at)
    assert [r for r in order if r.startswith("r")] == [r for r in new if r.startswith("r")]
