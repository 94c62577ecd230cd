"""The task schema: construction, validation messages, answers, chat values and task.json."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

import labelbook as lb
from labelbook.errors import TaskError


def full_task() -> lb.Task:
    """A task using every field, question and metadata type."""
    return lb.Task(
        name="trajectory-rating",
        fields=[
            lb.TextField("instruction", title="Instruction", use_markdown=True),
            lb.ChatField("trajectory", description="What the agent did."),
            lb.ImageField("screenshot", required=False),
        ],
        questions=[
            lb.LabelQuestion(
                "outcome",
                labels={
                    "success": "Everything asked was done.",
                    "partial": "Some of it.",
                    "failure": "None.",
                },
                description="Did the agent do what was asked?",
            ),
            lb.MultiLabelQuestion("problems", labels=["looping", "hallucination"], required=False),
            lb.RatingQuestion("efficiency", values=[1, 2, 3, 4, 5]),
            lb.RankingQuestion("preference", values={"a": "First answer", "b": "Second answer"}),
            lb.TextQuestion("rationale", required=False, use_markdown=True),
            lb.SpanQuestion("claims", field="instruction", labels={"claim": "A checkable statement."}),
        ],
        overlap=3,
        metadata=[
            lb.TermsMetadata("vendor", options=["acme", "globex"]),
            lb.IntegerMetadata("steps", min=0, visible_for_annotators=True),
            lb.FloatMetadata("model_score", min=0.0, max=1.0),
        ],
    )


def test_the_design_example_builds() -> None:
    task = lb.Task(
        name="trajectory-rating",
        fields=[lb.TextField("instruction"), lb.ChatField("trajectory")],
        questions=[
            lb.LabelQuestion("outcome", labels={"success": "…", "partial": "…", "failure": "…"}),
            lb.RatingQuestion("efficiency", values=[1, 2, 3, 4, 5]),
            lb.TextQuestion("rationale", required=False),
        ],
        overlap=3,
    )
    outcome = task.question("outcome")
    assert isinstance(outcome, lb.LabelQuestion)
    assert outcome.title == "outcome"  # defaults to the name, as in Argilla
    assert list(outcome.labels) == ["success", "partial", "failure"]
    assert task.fields == (lb.TextField("instruction"), lb.ChatField("trajectory"))
    assert task.metadata == ()


def test_objects_are_frozen() -> None:
    field, attribute = lb.TextField("instruction"), "name"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(field, attribute, "other")


def test_task_json_round_trip_is_byte_identical() -> None:
    text = full_task().to_json()
    assert lb.Task.from_json(text) == full_task()
    assert lb.Task.from_json(text).to_json() == text
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data) == ["schema", "name", "overlap", "fields", "questions", "metadata"]
    assert data["schema"] == 1
    assert data["questions"][0]["labels"][1] == {"name": "partial", "definition": "Some of it."}


def test_task_json_keeps_unicode_readable() -> None:
    task = lb.Task(
        "t", [lb.TextField("x")], [lb.LabelQuestion("q", labels={"oui": "réussi", "non": "échoué"})]
    )
    assert "réussi" in task.to_json()
    assert lb.Task.from_json(task.to_json().encode()) == task


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lb.Task("", [lb.TextField("x")], [lb.TextQuestion("q")]), "empty name"),
        (lambda: lb.Task("-bad", [lb.TextField("x")], [lb.TextQuestion("q")]), "not allowed"),
        (lambda: lb.TextField(""), "empty name"),
        (lambda: lb.TextField("Instruction Text"), "'instruction_text'"),
        (lambda: lb.Task("t", [lb.TextField("x")], [lb.TextQuestion("q")], overlap=0), "at least 1"),
        (lambda: lb.Task("t", [lb.TextField("x")], [lb.TextQuestion("q")], overlap=True), "an integer"),
        (lambda: lb.Task("t", [], [lb.TextQuestion("q")]), "at least one field"),
        (lambda: lb.Task("t", [lb.TextField("x")], []), "at least one question"),
        (
            lambda: lb.Task("t", [lb.TextField("x"), lb.ChatField("x")], [lb.TextQuestion("q")]),
            "duplicate name 'x'",
        ),
        (lambda: lb.Task("t", [lb.TextField("x")], [lb.TextQuestion("x")]), "used by a field and a question"),
        (lambda: lb.Task("t", [lb.TextQuestion("q")], [lb.TextQuestion("r")]), "Questions go in questions"),
        (lambda: lb.LabelQuestion("q", labels=["a", "a"]), "duplicate label 'a'"),
        (lambda: lb.LabelQuestion("q", labels={"a": "x"}), "at least 2 labels"),
        (lambda: lb.LabelQuestion("q", labels={"a": "x", " b": "y"}), "leading or trailing spaces"),
        (lambda: lb.LabelQuestion("q", labels={"a": "x", "": "y"}), "empty label name"),
        (lambda: lb.LabelQuestion("q", labels={"a": "x", "b": 3}), "definition of 'b' must be a string"),
        (lambda: lb.LabelQuestion("q", labels="ab"), "dict of name → definition"),
        (lambda: lb.RatingQuestion("q", values=[1, 1, 2]), "repeats a value"),
        (lambda: lb.RatingQuestion("q", values=[1]), "at least 2 values"),
        (lambda: lb.RatingQuestion("q", values=[0, 11]), "outside 0..10"),
        (lambda: lb.RatingQuestion("q", values=[1, 2.5]), "integers from 0 to 10"),
        (lambda: lb.TextQuestion("q", required="yes"), "True or False"),
        (
            lambda: lb.Task("t", [lb.TextField("x")], [lb.SpanQuestion("s", field="y", labels=["a"])]),
            "marks field 'y', which is not a field of this task; text fields: 'x'",
        ),
        (
            lambda: lb.Task("t", [lb.TextField("x"), lb.ChatField("c")], [lb.SpanQuestion("s", "c", ["a"])]),
            "which is not a TextField",
        ),
        (
            lambda: lb.Task(
                "t", [lb.TextField("x")], [lb.TextQuestion("q")], metadata=[lb.TermsMetadata("m")] * 2
            ),
            "duplicate metadata name 'm'",
        ),
        (lambda: lb.IntegerMetadata("m", min=5, max=1), "greater than max"),
        (lambda: lb.TermsMetadata("m", options=["a", "a"]), "distinct"),
        (lambda: lb.Example(record=[], answers={}), "record must be a dict"),
        (lambda: lb.Example(record={}, answers={}, id="has space"), "Example id"),
    ],
)
def test_invalid_tasks_raise_precise_errors(build: Any, message: str) -> None:
    with pytest.raises(TaskError, match=None) as caught:
        build()
    assert message in str(caught.value)


def test_label_lists_mean_labels_without_definitions() -> None:
    question = lb.LabelQuestion("q", labels=["yes", "no"])
    assert question.labels == {"yes": "", "no": ""}


@pytest.mark.parametrize(
    ("question", "good", "bad", "message"),
    [
        (lb.LabelQuestion("q", {"yes": "", "no": ""}), "yes", "maybe", "allowed: 'yes', 'no'"),
        (lb.MultiLabelQuestion("q", {"a": "", "b": ""}), ["a", "b"], ["a", "c"], "allowed: 'a', 'b'"),
        (lb.MultiLabelQuestion("q", {"a": "", "b": ""}), [], ["a", "a"], "repeats a label"),
        (lb.MultiLabelQuestion("q", {"a": "", "b": ""}), ["b"], "a", "takes a list of labels"),
        (lb.RatingQuestion("q", [1, 2, 3]), 3, 4, "allowed: 1, 2, 3"),
        (lb.RatingQuestion("q", [0, 1]), 1, True, "allowed: 0, 1"),
        (lb.RankingQuestion("q", {"a": "", "b": ""}), ["b", "a"], ["a"], "every option once"),
        (lb.TextQuestion("q"), "because", 3, "takes a string"),
        (
            lb.SpanQuestion("q", "x", {"claim": ""}),
            [{"start": 0, "end": 4, "label": "claim"}, {"start": 4, "end": 6, "label": "claim"}],
            [{"start": 0, "end": 4, "label": "claim"}, {"start": 3, "end": 6, "label": "claim"}],
            "overlap",
        ),
        (
            lb.SpanQuestion("q", "x", {"claim": ""}),
            [],
            [{"start": 0, "end": 4, "label": "fact"}],
            "allowed: 'claim'",
        ),
        (
            lb.SpanQuestion("q", "x", {"claim": ""}),
            [],
            [{"start": 5, "end": 4, "label": "claim"}],
            "start < end",
        ),
    ],
)
def test_validate_value_accepts_allowed_answers_and_lists_them_otherwise(
    question: lb.LabelQuestion, good: object, bad: object, message: str
) -> None:
    question.validate_value(good)
    with pytest.raises(TaskError) as caught:
        question.validate_value(bad)
    assert message in str(caught.value)


def test_overlapping_spans_are_fine_only_when_allowed() -> None:
    spans = [{"start": 0, "end": 4, "label": "claim"}, {"start": 3, "end": 6, "label": "claim"}]
    allowed = lb.SpanQuestion("q", "x", {"claim": ""}, allow_overlapping=True)
    allowed.validate_value(spans)
    task = lb.Task("t", fields=[lb.TextField("x")], questions=[allowed])
    task.validate_answers({"q": spans})  # the task accepts it too
    strict = lb.SpanQuestion("q", "x", {"claim": ""})
    with pytest.raises(TaskError, match="overlap"):
        strict.validate_value(spans)


@pytest.mark.parametrize(
    ("arguments", "command"),
    [
        ({"command": "ls -la"}, "ls -la"),
        ({"cmd": "pytest -q"}, "pytest -q"),
        ({"script": "make"}, "make"),
        ({"code": "print(1)"}, "print(1)"),
        ({"input": "echo hi"}, "echo hi"),
        ('{"cmd": "ls"}', "ls"),  # arguments logged as a JSON string
        ({"command": ["ls"]}, None),  # not a string: shown as arguments, not as a shell step
        ({"path": "README.md"}, None),
        ("not json", None),
        (None, None),
    ],
)
def test_one_reader_finds_the_shell_command_of_a_tool_call(arguments: object, command: str | None) -> None:
    assert lb.ToolCall("bash", arguments).command == command


def test_chat_values_carry_tool_calls_and_shell_commands() -> None:
    field = lb.ChatField("trajectory")
    messages = field.messages(
        [
            {"role": "user", "content": "Fix the failing test."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "ok"},
            {"role": "shell", "command": "pytest -q", "output": "1 failed", "exit_code": 1, "ts": 3},
            {"role": "assistant", "content": [{"type": "text", "text": "Done"}]},
        ]
    )
    assert messages[1].tool_calls == (lb.ToolCall(name="bash", arguments="{}", id="c1"),)
    assert messages[2].tool_call_id == "c1"
    assert (messages[3].command, messages[3].output, messages[3].exit_code) == ("pytest -q", "1 failed", 1)
    assert messages[4].content == "Done"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("just text", "must be a list of messages"),
        ([{"content": "hi"}], "trajectory'[0] needs a non-empty 'role'"),
        (
            [{"role": "assistant", "tool_calls": [{"arguments": {}}]}],
            "tool_calls[0] needs a non-empty 'name'",
        ),
        ([{"role": "shell", "command": "ls", "exit_code": "0"}], "exit_code must be an integer"),
    ],
)
def test_malformed_chat_values_name_the_message(value: object, message: str) -> None:
    with pytest.raises(TaskError) as caught:
        lb.ChatField("trajectory").validate_value(value)
    assert message in str(caught.value)


def test_metadata_values_are_checked_against_declarations() -> None:
    lb.TermsMetadata("vendor", options=["acme"]).validate_value("acme")
    lb.IntegerMetadata("steps", min=0).validate_value(3)
    lb.FloatMetadata("score", max=1).validate_value(0.5)
    with pytest.raises(TaskError, match="allowed: 'acme'"):
        lb.TermsMetadata("vendor", options=["acme"]).validate_value("globex")
    with pytest.raises(TaskError, match="outside"):
        lb.IntegerMetadata("steps", min=0).validate_value(-1)
    with pytest.raises(TaskError, match="an integer"):
        lb.IntegerMetadata("steps").validate_value(1.5)


def test_records_and_answers_are_validated_against_the_task() -> None:
    task = full_task()
    task.validate_record({"instruction": "Do it", "trajectory": [{"role": "user", "content": "hi"}]})
    task.validate_answers({"outcome": "partial", "efficiency": 3})
    with pytest.raises(TaskError, match="required field 'trajectory'"):
        task.validate_record({"instruction": "Do it"})
    with pytest.raises(TaskError, match="no field 'instructions'; fields: 'instruction', 'trajectory'"):
        task.validate_record({"instructions": "Do it"})
    with pytest.raises(TaskError, match="no question 'outcomes'"):
        task.validate_answers({"outcomes": "partial"})
    with pytest.raises(TaskError, match="'done' is not a label of question 'outcome'"):
        task.validate_answers({"outcome": "done"})


def _edited(edit: Any) -> str:
    data = full_task().to_dict()
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema": 1, "name": "t",', "task.json: invalid JSON at line 1, column 27"),
        ("[]", "expected a JSON object"),
        (_edited(lambda d: d.pop("schema")), "'schema' must be 1, got None"),
        (_edited(lambda d: d.update(schema=2)), "written for task schema 2"),
        (_edited(lambda d: d["questions"][0].update(type="likert")), "questions[0]: unknown type 'likert'"),
        (_edited(lambda d: d["questions"][0].update(type="likert")), "known types: 'label', 'multi_label'"),
        (
            _edited(lambda d: d["questions"][0]["labels"].append(d["questions"][0]["labels"][0])),
            "duplicate label",
        ),
        (_edited(lambda d: d["fields"][0].update(titel="x")), "fields[0]: unknown key 'titel'"),
        (_edited(lambda d: d["questions"][2].pop("values")), "questions[2] (rating) is missing 'values'"),
        (_edited(lambda d: d["questions"][2].update(values=[1, 1])), "questions[2]: question 'efficiency'"),
        (_edited(lambda d: d.update(overlap=0)), "task.json: Task overlap must be at least 1"),
        (_edited(lambda d: d["metadata"][0].update(type="date")), "metadata[0]: unknown type 'date'"),
    ],
)
def test_bad_task_json_names_the_entry(text: str, message: str) -> None:
    with pytest.raises(TaskError) as caught:
        lb.Task.from_json(text)
    assert message in str(caught.value)


def test_rating_values_can_carry_meanings_and_older_task_json_is_unchanged() -> None:
    plain = lb.RatingQuestion("clarity", values=[1, 2, 3])
    assert plain.meanings() == {}
    assert "definitions" not in plain_json(plain)  # task.json written before meanings existed stays identical

    rated = lb.RatingQuestion(
        "clarity", values=[1, 2, 3], definitions={3: "Clear to anyone.", 1: "Unreadable."}
    )
    assert list(rated.definitions) == [1, 3]  # kept in scale order
    assert rated.meanings() == {"1": "Unreadable.", "2": "", "3": "Clear to anyone."}
    task = lb.Task("t", [lb.TextField("x")], [rated])
    text = task.to_json()
    assert json.loads(text)["questions"][0]["definitions"] == [
        {"value": 1, "definition": "Unreadable."},
        {"value": 3, "definition": "Clear to anyone."},
    ]
    assert lb.Task.from_json(text) == task and lb.Task.from_json(text).to_json() == text


def plain_json(question: lb.RatingQuestion) -> dict[str, object]:
    return json.loads(lb.Task("t", [lb.TextField("x")], [question]).to_json())["questions"][0]


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        ({4: "Too high."}, "4 is not on the scale [1, 2, 3]"),
        ({True: "Yes."}, "True is not on the scale"),
        ({1: 5}, "the meaning of 1"),
        (["Unreadable."], "must be a dict of value → meaning"),
    ],
)
def test_rating_meanings_are_checked(definitions: object, message: str) -> None:
    with pytest.raises(TaskError, match=re.escape(message)):
        lb.RatingQuestion("clarity", values=[1, 2, 3], definitions=definitions)  # type: ignore[arg-type]
