"""The Task and its worked examples; task.json in and out, lossless."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, MISSING, dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from labelbook.errors import TaskError
from labelbook.task.checks import (
    EXAMPLE_ID,
    TASK_NAME,
    check_keys,
    check_type,
    describe_allowed,
    suggest_name,
)
from labelbook.task.fields import FIELD_TYPES, ChatField, Field, ImageField, TextField
from labelbook.task.metadata import METADATA_TYPES, Metadata
from labelbook.task.questions import QUESTION_TYPES, Question, RatingQuestion, SpanQuestion

__all__ = ["SCHEMA_VERSION", "Example", "Task"]

SCHEMA_VERSION = 1
"""Version of the task.json layout; bumped when a change would make old readers misread it."""


@dataclass(frozen=True)
class Example:
    """A worked example: a record, the correct answers and why they are correct.

    In a notebook, a code cell tagged `labelbook:example` binds `example = lb.Example(...)` (or
    `examples = [...]`); it belongs to the section it appears in. Answers are checked against the
    task by the lint, not here, so a notebook with a wrong example still loads and gets a finding.
    """

    record: Mapping[str, Any]
    """Field name → value, as a record would hold it."""
    answers: Mapping[str, Any]
    """Question name → the correct answer."""
    _: KW_ONLY
    explanation: str = ""
    """Markdown: why these answers are right, citing rules by id where it helps."""
    title: str = ""
    """A short name for the case, e.g. "Tests never run"."""
    id: str | None = None
    """A stable id for reports to cite; by default `<section id>-example-<n>`."""

    def __post_init__(self) -> None:
        for attr in ("record", "answers"):
            value = getattr(self, attr)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise TaskError(
                    f"Example {attr} must be a dict keyed by {'field' if attr == 'record' else 'question'} "
                    f"names, got {type(value).__name__}."
                )
            object.__setattr__(self, attr, dict(value))
        check_type(self.explanation, str, "Example explanation", "a string")
        check_type(self.title, str, "Example title", "a string")
        if self.id is not None and not (isinstance(self.id, str) and EXAMPLE_ID.match(self.id)):
            raise TaskError(
                f"Example id {self.id!r} is not allowed: use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit."
            )


# ---------------------------------------------------------------------------------------------
# The task.


@dataclass(frozen=True)
class Task:
    """A labeling task: the fields each record shows, the questions asked, and how many annotators."""

    name: str
    """Dataset name in Argilla: letters, digits, spaces, '_' and '-'."""
    fields: Sequence[Field]
    """What each record shows, in display order."""
    questions: Sequence[Question]
    """What annotators answer, in display order."""
    _: KW_ONLY
    overlap: int = 1
    """How many annotators answer each record (Argilla's `min_submitted`)."""
    metadata: Sequence[Metadata] = ()
    """Declared record metadata, visible to contractors or hidden."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TaskError("Task has an empty name: give it a dataset name such as 'trajectory-rating'.")
        if not TASK_NAME.match(self.name):
            raise TaskError(
                f"Task name {self.name!r} is not allowed: use letters, digits, spaces, '_' and '-', "
                f"not starting with one of ' _-' (for example {suggest_name(self.name)!r})."
            )
        check_type(self.overlap, int, "Task overlap", "an integer (annotators per record)")
        if self.overlap < 1:
            raise TaskError(f"Task overlap must be at least 1 (annotators per record), got {self.overlap}.")
        groups: list[tuple[str, object, tuple[type, ...], str]] = [
            ("fields", self.fields, (TextField, ChatField, ImageField), "a field such as lb.TextField"),
            ("questions", self.questions, tuple(QUESTION_TYPES.values()), "a question"),
            ("metadata", self.metadata, tuple(METADATA_TYPES.values()), "a metadata declaration"),
        ]
        for attr, items, kinds, expected in groups:
            if not isinstance(items, Sequence) or isinstance(items, str):
                raise TaskError(f"Task {attr} must be a list, got {type(items).__name__}.")
            for i, item in enumerate(items):
                if not isinstance(item, kinds):
                    hint = ""
                    if isinstance(item, tuple(QUESTION_TYPES.values())):
                        hint = " Questions go in questions=[...]."
                    elif isinstance(item, (TextField, ChatField, ImageField)):
                        hint = " Fields go in fields=[...]."
                    raise TaskError(f"Task {attr}[{i}] must be {expected}, got {type(item).__name__}.{hint}")
            object.__setattr__(self, attr, tuple(items))
        if not self.fields:
            raise TaskError("Task needs at least one field: what should annotators look at?")
        if not self.questions:
            raise TaskError("Task needs at least one question: what should annotators answer?")
        seen: dict[str, str] = {}
        for what, items in (("field", self.fields), ("question", self.questions)):
            for item in items:
                if item.name in seen:
                    raise TaskError(
                        f"duplicate name {item.name!r}: used by a {seen[item.name]} and a {what}. "
                        "Field and question names must be unique; rename one."
                    )
                seen[item.name] = what
        names = [m.name for m in self.metadata]
        for name in names:
            if names.count(name) > 1:
                raise TaskError(f"duplicate metadata name {name!r}: rename or remove one.")
        text_fields = [f.name for f in self.fields if isinstance(f, TextField)]
        for question in self.questions:
            if isinstance(question, SpanQuestion) and question.field not in text_fields:
                known = describe_allowed(text_fields) or "none"
                problem = "is not a TextField" if question.field in seen else "is not a field of this task"
                raise TaskError(
                    f"span question {question.name!r} marks field {question.field!r}, which {problem}; "
                    f"text fields: {known}."
                )

    def field(self, name: str) -> Field:
        """The field called `name`; TaskError lists the known names otherwise."""
        for item in self.fields:
            if item.name == name:
                return item
        raise TaskError(f"no field {name!r}; fields: {describe_allowed([f.name for f in self.fields])}.")

    def question(self, name: str) -> Question:
        """The question called `name`; TaskError lists the known names otherwise."""
        for item in self.questions:
            if item.name == name:
                return item
        known = describe_allowed([q.name for q in self.questions])
        raise TaskError(f"no question {name!r}; questions: {known}.")

    def validate_record(self, record: Mapping[str, Any]) -> None:
        """Raise TaskError unless `record` has a valid value for every required field and no unknown keys."""
        for key in record:
            self.field(key)
        for item in self.fields:
            if item.name in record and record[item.name] is not None:
                item.validate_value(record[item.name])
            elif item.required:
                raise TaskError(f"the record has no value for required field {item.name!r}.")

    def validate_answers(self, answers: Mapping[str, Any]) -> None:
        """Raise TaskError unless every answer names a question and is one of its allowed values."""
        for key, value in answers.items():
            self.question(key).validate_value(value)

    # -- task.json ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The task as plain JSON data, keys in a stable order, with a `schema` version."""
        return {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "overlap": self.overlap,
            "fields": [encode(item) for item in self.fields],
            "questions": [encode(item) for item in self.questions],
            "metadata": [encode(item) for item in self.metadata],
        }

    def to_json(self) -> str:
        """task.json text: `indent=2`, UTF-8 characters kept, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: object, source: str = "task.json") -> Task:
        """Read a task from `to_dict()` data; TaskError names the source and the offending entry."""
        if not isinstance(data, Mapping):
            raise TaskError(f"{source}: expected a JSON object with 'name', 'fields' and 'questions'.")
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
                raise TaskError(
                    f"{source}: written for task schema {schema}, this labelbook reads schema "
                    f"{SCHEMA_VERSION}: upgrade labelbook."
                )
            raise TaskError(f"{source}: 'schema' must be {SCHEMA_VERSION}, got {schema!r}.")
        check_keys(data, {"schema", "name", "overlap", "fields", "questions", "metadata"}, source)
        kwargs: dict[str, Any] = {"name": data.get("name"), "overlap": data.get("overlap", 1)}
        for key, registry in (
            ("fields", FIELD_TYPES),
            ("questions", QUESTION_TYPES),
            ("metadata", METADATA_TYPES),
        ):
            entries = data.get(key, [])
            if not isinstance(entries, list):
                raise TaskError(f"{source}: '{key}' must be a list.")
            kwargs[key] = [
                decode(entry, registry, f"{source}: {key}[{i}]") for i, entry in enumerate(entries)
            ]
        try:
            return cls(**kwargs)
        except TaskError as err:
            raise TaskError(f"{source}: {err}") from None

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "task.json") -> Task:
        """Parse task.json text (see `from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise TaskError(
                f"{source}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}. "
                "Rebuild it with `labelbook build` or fix the syntax."
            ) from err
        return cls.from_dict(data, source)


def encode(item: Field | Question | Metadata) -> dict[str, Any]:
    out: dict[str, Any] = {"type": item.kind}
    maps = getattr(item, "definition_maps", ())
    for f in dataclass_fields(item):
        value = getattr(item, f.name)
        if f.metadata.get("omit_empty") and not value:
            continue  # an optional part left out keeps older task.json files byte-identical
        if f.name in maps:
            value = [{"name": name, "definition": text} for name, text in value.items()]
        elif f.name == "definitions":
            value = [{"value": number, "definition": text} for number, text in value.items()]
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def decode(entry: object, registry: Mapping[str, type], where: str) -> Any:
    if not isinstance(entry, Mapping):
        raise TaskError(f"{where} must be a JSON object with a 'type'.")
    kind = entry.get("type")
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TaskError(
            f"{where}: unknown type {kind!r}; known types: {describe_allowed(list(registry))}. "
            "Fix the 'type' or upgrade labelbook."
        )
    assert isinstance(cls, type)
    names = {f.name for f in dataclass_fields(cls)}
    check_keys(entry, names | {"type"}, where)
    missing = [
        f.name
        for f in dataclass_fields(cls)
        if f.name not in entry and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise TaskError(f"{where} ({kind}) is missing {describe_allowed(missing)}.")
    kwargs = {key: value for key, value in entry.items() if key != "type"}
    for key in getattr(cls, "definition_maps", ()):
        kwargs[key] = decode_definitions(kwargs[key], f"{where}.{key}")
    if cls is RatingQuestion and "definitions" in kwargs:
        kwargs["definitions"] = decode_meanings(kwargs["definitions"], f"{where}.definitions")
    try:
        return cls(**kwargs)
    except TaskError as err:
        raise TaskError(f"{where}: {err}") from None


def decode_meanings(value: object, where: str) -> dict[int, str]:
    if not isinstance(value, list):
        raise TaskError(f"{where} must be a list of {{'value', 'definition'}} objects.")
    out: dict[int, str] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise TaskError(f"{where}[{i}] must be an object with a 'value' and a 'definition'.")
        check_keys(entry, {"value", "definition"}, f"{where}[{i}]")
        out[entry["value"]] = entry.get("definition", "")
    return out


def decode_definitions(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, list):
        raise TaskError(f"{where} must be a list of {{'name', 'definition'}} objects.")
    out: dict[str, str] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise TaskError(f"{where}[{i}] must be an object with a 'name' and a 'definition'.")
        check_keys(entry, {"name", "definition"}, f"{where}[{i}]")
        name = entry["name"]
        if name in out:
            raise TaskError(
                f"{where}: duplicate label {name!r}. Label names must be unique: "
                "merge the two definitions or rename one."
            )
        definition = entry.get("definition", "")
        check_type(definition, str, f"{where}[{i}].definition", "a string")
        out[name] = definition
    return out
