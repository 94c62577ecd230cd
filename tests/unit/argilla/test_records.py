"""Records as the adapter uploads them: validated with row numbers, stable ids, no answers, gold
spread through the queue, and what counts as a changed record."""

from __future__ import annotations

import pytest

from labelbook.argilla.records import interleave, prepare
from labelbook.argilla.upload import content_differs
from labelbook.errors import RecordsError
from labelbook.task import ChatField, LabelQuestion, MultiLabelQuestion, Task, TextField

TASK = Task(
    "t",
    fields=[TextField("text"), ChatField("chat", required=False)],
    questions=[
        LabelQuestion("label", labels={"a": "is a", "b": "is b"}),
        MultiLabelQuestion("tags", labels=["x", "y"]),
    ],
)


def test_records_are_validated_with_row_numbers_and_get_stable_ids() -> None:
    prepared = prepare(TASK, [{"text": "hello"}, {"text": "world", "label.suggestion": "a"}])
    assert prepared.ids == prepare(TASK, [{"text": "hello"}, {"text": "world"}]).ids  # content hashes
    assert prepared.payloads[1]["suggestions"] == [{"question_name": "label", "value": "a", "type": "model"}]
    with pytest.raises(RecordsError) as caught:
        prepare(TASK, [{"text": "ok", "label": "a"}, {"text": 3}, {"text": "ok"}])
    problems = caught.value.problems
    assert problems[0].startswith("row 2: field 'text' must be a string")
    assert problems[1].startswith("row 3: id ") and "repeats row 1" in problems[1]
    with pytest.raises(RecordsError, match="no column for required field 'text'"):
        prepare(TASK, [{"body": "x"}])
    assert prepare(TASK, [{"body": "x"}], mapping={"body": "text"}).payloads[0]["fields"] == {"text": "x"}


def test_answer_columns_are_never_uploaded() -> None:
    prepared = prepare(TASK, [{"id": "1", "text": "t", "label": "a"}])
    assert prepared.payloads == [{"external_id": "1", "fields": {"text": "t"}}]
    assert prepared.ignored_columns == ["label"]


def test_gold_is_spread_through_the_queue_at_the_rate() -> None:
    ids = [f"o{i}" for i in range(18)] + ["g1", "g2", "g3"]
    order = interleave(ids, {"g1", "g2", "g3"}, 0.1)
    assert len(order) == 20 and order.count("g1") == 1 and "g3" not in order
    assert 3 <= order.index("g1") <= 8 and 10 <= order.index("g2") <= 16


def test_a_published_record_differs_by_fields_or_metadata_not_by_what_the_server_adds() -> None:
    payload = {"external_id": "r1", "fields": {"text": "a"}, "metadata": {"source": "wiki", "length": 3}}
    on_server = {
        "id": "uuid",
        "external_id": "r1",
        "status": "pending",
        "fields": {"text": "a"},
        "metadata": {"length": 3, "source": "wiki"},
        "inserted_at": "2026-11-24T10:00:00",
    }
    assert not content_differs(payload, on_server)
    assert content_differs({**payload, "fields": {"text": "b"}}, on_server)
    assert content_differs({**payload, "metadata": {"source": "forum", "length": 3}}, on_server)
    bare = {"external_id": "r1", "fields": {"text": "a"}}
    assert content_differs(bare, on_server)  # the metadata was dropped
    assert not content_differs(bare, {**on_server, "metadata": None})
