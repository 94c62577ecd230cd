"""The task schema: what each record shows, what contractors answer, and worked examples.

A `Task` holds fields (what a record shows), questions (what an annotator answers), the
overlap (annotators per record) and metadata declarations. Names mirror the argilla SDK's
(`TextField`, `LabelQuestion`, `RatingQuestion`, ...) so Argilla users feel at home, but labels
carry their definitions: they become the glossary, the question descriptions and the lint's
reference. Nothing here imports argilla; `labelbook.argilla` converts a Task to dataset settings.

Every object is a frozen dataclass validated on construction (`TaskError` says what, where and
how to fix it). Sequences are stored as tuples and label maps as plain dicts in the order given.
`Task.to_json()` / `Task.from_json()` are lossless: task.json → Task → task.json is byte-identical.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, MISSING, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, ClassVar, TypeAlias

from labelbook.errors import TaskError

__all__ = [
    "SCHEMA_VERSION",
    "ChatField",
    "ChatMessage",
    "Example",
    "Field",
    "FloatMetadata",
    "ImageField",
    "IntegerMetadata",
    "LabelQuestion",
    "Metadata",
    "MultiLabelQuestion",
    "Question",
    "RankingQuestion",
    "RatingQuestion",
    "SpanQuestion",
    "Task",
    "TermsMetadata",
    "TextField",
    "TextQuestion",
    "ToolCall",
    "readable_name",
]

SCHEMA_VERSION = 1
"""Version of the task.json layout; bumped when a change would make old readers misread it."""

# Argilla's own rule for field, question and metadata names.
_NAME = re.compile(r"^(?=.*[a-z0-9])[a-z0-9_-]+$")
# Argilla's rule for dataset names.
_TASK_NAME = re.compile(r"^(?![-_ ])[a-zA-Z0-9_ -]+$")
_EXAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _suggest_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_") or "name"


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TaskError(f"{what} has an empty name: give it a short lowercase name such as 'outcome'.")
    if not _NAME.match(name):
        raise TaskError(
            f"{what} name {name!r} is not allowed: use lowercase letters, digits, '_' and '-' only "
            f"(for example {_suggest_name(name)!r})."
        )
    return name


def readable_name(name: str) -> str:
    """A name as a heading: `answer_a` → "Answer A", `final-state` → "Final state"."""
    words = [word for word in re.split(r"[_-]+", name) if word]
    if not words:
        return name
    if len(words) > 1 and len(words[-1]) == 1:  # answer_a, response_b: the letter is a name
        words[-1] = words[-1].upper()
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def _check_type(value: object, kind: type | tuple[type, ...], where: str, expected: str) -> None:
    # bool is an int subclass; a flag is never a count.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise TaskError(f"{where} must be {expected}, got {type(value).__name__} {value!r}.")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _definitions(value: object, where: str, minimum: int) -> dict[str, str]:
    """Normalize labels: a mapping name → definition, or a list of names (no definitions yet)."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str):
        pairs = [(name, "") for name in value]
    else:
        raise TaskError(f"{where} must be a dict of name → definition, got {type(value).__name__} {value!r}.")
    labels: dict[str, str] = {}
    for name, definition in pairs:
        if not isinstance(name, str) or not name.strip():
            raise TaskError(f"{where} has an empty label name: every label needs a name.")
        if name != name.strip():
            raise TaskError(f"{where}: label {name!r} has leading or trailing spaces: remove them.")
        if name in labels:
            raise TaskError(
                f"{where}: duplicate label {name!r}. Label names must be unique: "
                "merge the two definitions or rename one."
            )
        _check_type(definition, str, f"{where}: the definition of {name!r}", "a string")
        labels[name] = definition
    if len(labels) < minimum:
        raise TaskError(f"{where} needs at least {minimum} labels, got {len(labels)}: {list(labels)}.")
    return labels


def _describe_allowed(values: Sequence[object]) -> str:
    return ", ".join(repr(v) for v in values)


# ---------------------------------------------------------------------------------------------
# Chat values: a list of messages with roles, tool calls and shell commands.


@dataclass(frozen=True)
class ToolCall:
    """A call an assistant made to a tool (OpenAI's `tool_calls` shape, flat or nested)."""

    name: str
    """Tool name, e.g. "bash"."""
    arguments: Any = None
    """Arguments as given: a dict, or the raw JSON string some APIs log."""
    id: str = ""
    """Call id that a later `tool` message answers through its `tool_call_id`."""


@dataclass(frozen=True)
class ChatMessage:
    """One message of a ChatField value.

    A value is a list of dicts; each has a `role` ("system", "user", "assistant", "tool", or any
    other name such as "shell") and may have:
    `content` (a string, or a list of `{"type": "text", "text": ...}` parts),
    `tool_calls` (a list of `{"name", "arguments", "id"}` or `{"id", "function": {"name", "arguments"}}`),
    `name` and `tool_call_id` (on a tool's reply), and for shell sessions
    `command`, `output` and `exit_code`. Other keys (timestamps, token counts) are allowed and ignored.
    """

    role: str
    """Who speaks: "user", "assistant", "system", "tool", "shell", ..."""
    content: str = ""
    """The text of the message (may be empty when the message is only a tool call or a command)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls made in this message."""
    command: str | None = None
    """A shell command that was run."""
    output: str | None = None
    """What the command (or tool) printed."""
    exit_code: int | None = None
    """The command's exit status, when known."""
    name: str = ""
    """The tool's name, on a tool's reply."""
    tool_call_id: str = ""
    """The id of the call this message answers."""

    @classmethod
    def from_value(cls, value: object, where: str = "message") -> ChatMessage:
        """Parse one message dict, raising TaskError that names the bad key."""
        if not isinstance(value, Mapping):
            raise TaskError(f"{where} must be a dict with a 'role', got {type(value).__name__} {value!r}.")
        role = value.get("role")
        if not isinstance(role, str) or not role.strip():
            raise TaskError(f"{where} needs a non-empty 'role' such as 'user', 'assistant' or 'tool'.")
        content = value.get("content")
        if content is None:
            content = ""
        elif isinstance(content, list):
            parts = []
            for i, part in enumerate(content):
                if isinstance(part, str):
                    parts.append(part)
                elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
                else:
                    raise TaskError(f"{where}.content[{i}] must be a string or a {{'text': ...}} part.")
            content = "\n".join(parts)
        _check_type(content, str, f"{where}.content", "a string")
        calls = []
        raw_calls = value.get("tool_calls") or []
        _check_type(raw_calls, list, f"{where}.tool_calls", "a list")
        for i, call in enumerate(raw_calls):
            at = f"{where}.tool_calls[{i}]"
            if not isinstance(call, Mapping):
                raise TaskError(f"{at} must be a dict with a 'name'.")
            function = call.get("function")
            inner: Mapping[str, Any] = function if isinstance(function, Mapping) else call
            name = inner.get("name")
            if not isinstance(name, str) or not name:
                raise TaskError(f"{at} needs a non-empty 'name' (the tool that was called).")
            call_id = call.get("id") or ""
            _check_type(call_id, str, f"{at}.id", "a string")
            calls.append(ToolCall(name=name, arguments=inner.get("arguments"), id=call_id))
        command, output, exit_code = value.get("command"), value.get("output"), value.get("exit_code")
        if command is not None:
            _check_type(command, str, f"{where}.command", "a string")
        if output is not None:
            _check_type(output, str, f"{where}.output", "a string")
        if exit_code is not None:
            _check_type(exit_code, int, f"{where}.exit_code", "an integer")
        name = value.get("name") or ""
        tool_call_id = value.get("tool_call_id") or ""
        _check_type(name, str, f"{where}.name", "a string")
        _check_type(tool_call_id, str, f"{where}.tool_call_id", "a string")
        return cls(role, content, tuple(calls), command, output, exit_code, name, tool_call_id)


# ---------------------------------------------------------------------------------------------
# Fields: what a record shows.


@dataclass(frozen=True)
class _Field:
    name: str
    """Key of this field in every record; lowercase letters, digits, '_' and '-'."""
    _: KW_ONLY
    title: str = ""
    """Heading shown above the field; defaults to the name."""
    description: str = ""
    """Help shown beside the field."""
    required: bool = True
    """Whether every record must have a value for this field."""

    kind: ClassVar[str]

    def __post_init__(self) -> None:
        _check_name(self.name, f"{type(self).__name__}")
        where = f"field {self.name!r}"
        _check_type(self.title, str, f"{where}: title", "a string")
        _check_type(self.description, str, f"{where}: description", "a string")
        _check_type(self.required, bool, f"{where}: required", "True or False")
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @property
    def display_title(self) -> str:
        """The title shown to people: the one given, else the name made readable ("Answer A")."""
        return readable_name(self.name) if self.title == self.name else self.title

    def validate_value(self, value: object) -> None:
        """Raise TaskError unless `value` is a valid record value for this field."""
        _check_type(value, str, f"field {self.name!r}", "a string")


@dataclass(frozen=True)
class TextField(_Field):
    """Text shown as is, or rendered as markdown."""

    _: KW_ONLY
    use_markdown: bool = False
    """Render the value as markdown rather than plain text."""

    kind: ClassVar[str] = "text"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_type(self.use_markdown, bool, f"field {self.name!r}: use_markdown", "True or False")


@dataclass(frozen=True)
class ChatField(_Field):
    """A conversation or agent trajectory: messages with roles, tool calls, shell commands and output."""

    _: KW_ONLY
    use_markdown: bool = True
    """Render message contents as markdown."""

    kind: ClassVar[str] = "chat"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_type(self.use_markdown, bool, f"field {self.name!r}: use_markdown", "True or False")

    def messages(self, value: object) -> tuple[ChatMessage, ...]:
        """Parse a record value into messages (see `ChatMessage` for the accepted shape)."""
        where = f"field {self.name!r}"
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise TaskError(f"{where} must be a list of messages, got {type(value).__name__}.")
        return tuple(ChatMessage.from_value(m, f"{where}[{i}]") for i, m in enumerate(value))

    def validate_value(self, value: object) -> None:
        """Raise TaskError unless `value` is a list of well-formed messages."""
        self.messages(value)


@dataclass(frozen=True)
class ImageField(_Field):
    """An image given by URL, data URI or path."""

    kind: ClassVar[str] = "image"


Field: TypeAlias = TextField | ChatField | ImageField
_FIELD_TYPES: dict[str, type[Field]] = {cls.kind: cls for cls in (TextField, ChatField, ImageField)}


# ---------------------------------------------------------------------------------------------
# Questions: what an annotator answers.


@dataclass(frozen=True)
class _Question:
    name: str
    """Key of this question in answers; lowercase letters, digits, '_' and '-'."""
    _: KW_ONLY
    title: str = ""
    """The question as contractors read it; defaults to the name."""
    description: str = ""
    """Help shown with the question; the lint asks for one."""
    required: bool = True
    """Whether an answer must be given to submit a record."""

    kind: ClassVar[str]
    # Attributes holding name → definition maps, written to JSON as lists of {"name", "definition"}.
    definition_maps: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        _check_name(self.name, type(self).__name__)
        where = f"question {self.name!r}"
        _check_type(self.title, str, f"{where}: title", "a string")
        _check_type(self.description, str, f"{where}: description", "a string")
        _check_type(self.required, bool, f"{where}: required", "True or False")
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @property
    def display_title(self) -> str:
        """The question shown to people: the title given, else the name made readable ("Confidence")."""
        return readable_name(self.name) if self.title == self.name else self.title

    def validate_value(self, value: object) -> None:
        """Raise TaskError, listing the allowed values, unless `value` is a valid answer."""
        raise NotImplementedError

    def meanings(self) -> dict[str, str]:
        """Each option as contractors see it → its definition ('' when missing); {} for free answers."""
        for attr in self.definition_maps:
            return dict(getattr(self, attr))
        return {}


@dataclass(frozen=True)
class LabelQuestion(_Question):
    """Pick exactly one label."""

    labels: Mapping[str, str]
    """Label name → definition (a list of names is accepted and means no definitions yet)."""

    kind: ClassVar[str] = "label"
    definition_maps: ClassVar[tuple[str, ...]] = ("labels",)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "labels", _definitions(self.labels, f"question {self.name!r}: labels", 2))

    def validate_value(self, value: object) -> None:
        if not isinstance(value, str) or value not in self.labels:
            raise TaskError(
                f"{value!r} is not a label of question {self.name!r}; "
                f"allowed: {_describe_allowed(list(self.labels))}."
            )


@dataclass(frozen=True)
class MultiLabelQuestion(_Question):
    """Pick any number of labels."""

    labels: Mapping[str, str]
    """Label name → definition (a list of names is accepted and means no definitions yet)."""

    kind: ClassVar[str] = "multi_label"
    definition_maps: ClassVar[tuple[str, ...]] = ("labels",)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "labels", _definitions(self.labels, f"question {self.name!r}: labels", 2))

    def validate_value(self, value: object) -> None:
        allowed = _describe_allowed(list(self.labels))
        if not isinstance(value, list | tuple):
            raise TaskError(f"question {self.name!r} takes a list of labels from: {allowed}; got {value!r}.")
        for label in value:
            if not isinstance(label, str) or label not in self.labels:
                raise TaskError(f"{label!r} is not a label of question {self.name!r}; allowed: {allowed}.")
        if len(set(value)) != len(value):
            raise TaskError(f"question {self.name!r}: the answer {value!r} repeats a label.")


@dataclass(frozen=True)
class RatingQuestion(_Question):
    """Pick one value on a scale of integers (Argilla allows 0 to 10)."""

    values: Sequence[int]
    """The scale, e.g. [1, 2, 3, 4, 5]: 2 to 11 distinct integers from 0 to 10."""
    definitions: Mapping[int, str] = field(default_factory=dict, kw_only=True, metadata={"omit_empty": True})
    """What a value means, e.g. {1: "Wrong or harmful.", 5: "Correct and complete."}; any subset."""

    kind: ClassVar[str] = "rating"

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"question {self.name!r}: values"
        if not isinstance(self.values, Sequence) or isinstance(self.values, str):
            raise TaskError(f"{where} must be a list of integers such as [1, 2, 3, 4, 5].")
        values = tuple(self.values)
        for v in values:
            _check_type(v, int, where, "integers from 0 to 10")
            if not 0 <= v <= 10:
                raise TaskError(f"{where}: {v} is outside 0..10, the range Argilla accepts.")
        if len(set(values)) != len(values):
            raise TaskError(f"{where}: {list(values)} repeats a value; each value must appear once.")
        if len(values) < 2:
            raise TaskError(f"{where} needs at least 2 values, got {list(values)}.")
        object.__setattr__(self, "values", values)
        where = f"question {self.name!r}: definitions"
        if not isinstance(self.definitions, Mapping):
            raise TaskError(
                f"{where} must be a dict of value → meaning, such as {{1: 'Wrong.', 5: 'Perfect.'}}."
            )
        for value, meaning in self.definitions.items():
            if isinstance(value, bool) or not isinstance(value, int) or value not in values:
                raise TaskError(
                    f"{where}: {value!r} is not on the scale {list(values)}; define values of the scale."
                )
            _check_type(meaning, str, f"{where}: the meaning of {value}", "a string")
        ordered = {value: self.definitions[value] for value in values if value in self.definitions}
        object.__setattr__(self, "definitions", ordered)

    def validate_value(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value not in self.values:
            raise TaskError(
                f"{value!r} is not a value of question {self.name!r}; "
                f"allowed: {_describe_allowed(self.values)}."
            )

    def meanings(self) -> dict[str, str]:
        """Every value of the scale → its definition, once any value is defined."""
        if not self.definitions:
            return {}
        return {str(value): self.definitions.get(value, "") for value in self.values}


@dataclass(frozen=True)
class RankingQuestion(_Question):
    """Order every option, best first."""

    values: Mapping[str, str]
    """Option name → definition (a list of names is accepted and means no definitions yet)."""

    kind: ClassVar[str] = "ranking"
    definition_maps: ClassVar[tuple[str, ...]] = ("values",)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "values", _definitions(self.values, f"question {self.name!r}: values", 2))

    def validate_value(self, value: object) -> None:
        allowed = _describe_allowed(list(self.values))
        if (
            not isinstance(value, list | tuple)
            or sorted(map(str, value)) != sorted(self.values)
            or len(value) != len(self.values)
            or not all(isinstance(v, str) for v in value)
        ):
            raise TaskError(
                f"question {self.name!r} takes every option once, best first, from: {allowed}; got {value!r}."
            )


@dataclass(frozen=True)
class TextQuestion(_Question):
    """Free text, such as a rationale."""

    _: KW_ONLY
    use_markdown: bool = False
    """Let annotators write markdown (rendered in the Argilla UI)."""

    kind: ClassVar[str] = "text"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_type(self.use_markdown, bool, f"question {self.name!r}: use_markdown", "True or False")

    def validate_value(self, value: object) -> None:
        if not isinstance(value, str):
            raise TaskError(f"question {self.name!r} takes a string, got {type(value).__name__} {value!r}.")


@dataclass(frozen=True)
class SpanQuestion(_Question):
    """Mark spans of a text field and label each one."""

    field: str
    """Name of the TextField whose text is marked."""
    labels: Mapping[str, str]
    """Label name → definition (a list of names is accepted and means no definitions yet)."""
    _: KW_ONLY
    allow_overlapping: bool = False
    """Whether two spans may overlap."""

    kind: ClassVar[str] = "span"
    definition_maps: ClassVar[tuple[str, ...]] = ("labels",)

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"question {self.name!r}"
        _check_type(self.field, str, f"{where}: field", "the name of a TextField")
        _check_type(self.allow_overlapping, bool, f"{where}: allow_overlapping", "True or False")
        object.__setattr__(self, "labels", _definitions(self.labels, f"{where}: labels", 1))

    def validate_value(self, value: object) -> None:
        """A list of `{"start": int, "end": int, "label": str}` with 0 <= start < end."""
        where = f"question {self.name!r}"
        allowed = _describe_allowed(list(self.labels))
        if not isinstance(value, list | tuple):
            raise TaskError(f"{where} takes a list of {{'start', 'end', 'label'}} spans, got {value!r}.")
        spans = []
        for i, span in enumerate(value):
            if not isinstance(span, Mapping):
                raise TaskError(f"{where}: span {i} must be a dict with 'start', 'end' and 'label'.")
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            if isinstance(start, bool) or isinstance(end, bool):
                start = end = None
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
                raise TaskError(f"{where}: span {i} needs integer offsets 0 <= start < end, got {span!r}.")
            if label not in self.labels:
                raise TaskError(f"{where}: span {i} has label {label!r}; allowed: {allowed}.")
            spans.append((start, end))
        if not self.allow_overlapping:
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                if start < end:
                    raise TaskError(f"{where}: spans overlap but allow_overlapping is False.")


Question: TypeAlias = (
    LabelQuestion | MultiLabelQuestion | RatingQuestion | RankingQuestion | TextQuestion | SpanQuestion
)
_QUESTION_TYPES: dict[str, type[Question]] = {
    cls.kind: cls
    for cls in (
        LabelQuestion,
        MultiLabelQuestion,
        RatingQuestion,
        RankingQuestion,
        TextQuestion,
        SpanQuestion,
    )
}


# ---------------------------------------------------------------------------------------------
# Metadata declarations.


@dataclass(frozen=True)
class _Metadata:
    name: str
    """Key of this property in record metadata."""
    _: KW_ONLY
    title: str = ""
    """Label shown in filters; defaults to the name."""
    visible_for_annotators: bool = False
    """Whether contractors see it. Hidden by default: metadata often holds sources, vendors or
    model names that would bias an annotator."""

    kind: ClassVar[str]

    def __post_init__(self) -> None:
        _check_name(self.name, type(self).__name__)
        where = f"metadata {self.name!r}"
        _check_type(self.title, str, f"{where}: title", "a string")
        _check_type(self.visible_for_annotators, bool, f"{where}: visible_for_annotators", "True or False")
        if not self.title:
            object.__setattr__(self, "title", self.name)

    def validate_value(self, value: object) -> None:
        """Raise TaskError unless `value` fits this declaration."""
        raise NotImplementedError


@dataclass(frozen=True)
class TermsMetadata(_Metadata):
    """A categorical property, e.g. the source of a record."""

    _: KW_ONLY
    options: Sequence[str] | None = None
    """The allowed terms; None allows any string."""

    kind: ClassVar[str] = "terms"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.options is None:
            return
        where = f"metadata {self.name!r}: options"
        if not isinstance(self.options, Sequence) or isinstance(self.options, str):
            raise TaskError(f"{where} must be a list of strings or None.")
        options = tuple(self.options)
        for option in options:
            _check_type(option, str, where, "strings")
        if len(set(options)) != len(options) or not options:
            raise TaskError(f"{where} must be distinct and non-empty, got {list(options)}.")
        object.__setattr__(self, "options", options)

    def validate_value(self, value: object) -> None:
        _check_type(value, str, f"metadata {self.name!r}", "a string")
        if self.options is not None and value not in self.options:
            raise TaskError(
                f"{value!r} is not an option of metadata {self.name!r}; "
                f"allowed: {_describe_allowed(self.options)}."
            )


@dataclass(frozen=True)
class _RangeMetadata(_Metadata):
    _: KW_ONLY
    min: float | None = None
    """Smallest allowed value, or None."""
    max: float | None = None
    """Largest allowed value, or None."""

    number: ClassVar[tuple[type, ...]]
    number_name: ClassVar[str]

    def __post_init__(self) -> None:
        super().__post_init__()
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if value is not None:
                _check_type(value, self.number, f"metadata {self.name!r}: {bound}", self.number_name)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise TaskError(f"metadata {self.name!r}: min {self.min} is greater than max {self.max}.")

    def validate_value(self, value: object) -> None:
        where = f"metadata {self.name!r}"
        _check_type(value, self.number, where, self.number_name)
        assert isinstance(value, int | float)  # narrowed by _check_type, for mypy
        if isinstance(value, float) and not math.isfinite(value):
            raise TaskError(f"{where} must be finite, got {value!r}.")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise TaskError(f"{where}: {value!r} is outside [{self.min}, {self.max}].")


@dataclass(frozen=True)
class IntegerMetadata(_RangeMetadata):
    """An integer property, e.g. the number of steps in a trajectory."""

    _: KW_ONLY
    min: int | None = None
    """Smallest allowed value, or None."""
    max: int | None = None
    """Largest allowed value, or None."""

    kind: ClassVar[str] = "integer"
    number: ClassVar[tuple[type, ...]] = (int,)
    number_name: ClassVar[str] = "an integer"


@dataclass(frozen=True)
class FloatMetadata(_RangeMetadata):
    """A numeric property, e.g. a model's score."""

    kind: ClassVar[str] = "float"
    number: ClassVar[tuple[type, ...]] = (int, float)
    number_name: ClassVar[str] = "a number"


Metadata: TypeAlias = TermsMetadata | IntegerMetadata | FloatMetadata
_METADATA_TYPES: dict[str, type[Metadata]] = {
    cls.kind: cls for cls in (TermsMetadata, IntegerMetadata, FloatMetadata)
}


# ---------------------------------------------------------------------------------------------
# Worked examples.


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
        _check_type(self.explanation, str, "Example explanation", "a string")
        _check_type(self.title, str, "Example title", "a string")
        if self.id is not None and not (isinstance(self.id, str) and _EXAMPLE_ID.match(self.id)):
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
        if not _TASK_NAME.match(self.name):
            raise TaskError(
                f"Task name {self.name!r} is not allowed: use letters, digits, spaces, '_' and '-', "
                f"not starting with one of ' _-' (for example {_suggest_name(self.name)!r})."
            )
        _check_type(self.overlap, int, "Task overlap", "an integer (annotators per record)")
        if self.overlap < 1:
            raise TaskError(f"Task overlap must be at least 1 (annotators per record), got {self.overlap}.")
        groups: list[tuple[str, object, tuple[type, ...], str]] = [
            ("fields", self.fields, (TextField, ChatField, ImageField), "a field such as lb.TextField"),
            ("questions", self.questions, tuple(_QUESTION_TYPES.values()), "a question"),
            ("metadata", self.metadata, tuple(_METADATA_TYPES.values()), "a metadata declaration"),
        ]
        for attr, items, kinds, expected in groups:
            if not isinstance(items, Sequence) or isinstance(items, str):
                raise TaskError(f"Task {attr} must be a list, got {type(items).__name__}.")
            for i, item in enumerate(items):
                if not isinstance(item, kinds):
                    hint = ""
                    if isinstance(item, tuple(_QUESTION_TYPES.values())):
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
                known = _describe_allowed(text_fields) or "none"
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
        raise TaskError(f"no field {name!r}; fields: {_describe_allowed([f.name for f in self.fields])}.")

    def question(self, name: str) -> Question:
        """The question called `name`; TaskError lists the known names otherwise."""
        for item in self.questions:
            if item.name == name:
                return item
        known = _describe_allowed([q.name for q in self.questions])
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
            "fields": [_encode(item) for item in self.fields],
            "questions": [_encode(item) for item in self.questions],
            "metadata": [_encode(item) for item in self.metadata],
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
        _check_keys(data, {"schema", "name", "overlap", "fields", "questions", "metadata"}, source)
        kwargs: dict[str, Any] = {"name": data.get("name"), "overlap": data.get("overlap", 1)}
        for key, registry in (
            ("fields", _FIELD_TYPES),
            ("questions", _QUESTION_TYPES),
            ("metadata", _METADATA_TYPES),
        ):
            entries = data.get(key, [])
            if not isinstance(entries, list):
                raise TaskError(f"{source}: '{key}' must be a list.")
            kwargs[key] = [
                _decode(entry, registry, f"{source}: {key}[{i}]") for i, entry in enumerate(entries)
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


def _encode(item: Field | Question | Metadata) -> dict[str, Any]:
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


def _decode(entry: object, registry: Mapping[str, type], where: str) -> Any:
    if not isinstance(entry, Mapping):
        raise TaskError(f"{where} must be a JSON object with a 'type'.")
    kind = entry.get("type")
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TaskError(
            f"{where}: unknown type {kind!r}; known types: {_describe_allowed(list(registry))}. "
            "Fix the 'type' or upgrade labelbook."
        )
    assert isinstance(cls, type)
    names = {f.name for f in dataclass_fields(cls)}
    _check_keys(entry, names | {"type"}, where)
    missing = [
        f.name
        for f in dataclass_fields(cls)
        if f.name not in entry and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise TaskError(f"{where} ({kind}) is missing {_describe_allowed(missing)}.")
    kwargs = {key: value for key, value in entry.items() if key != "type"}
    for key in getattr(cls, "definition_maps", ()):
        kwargs[key] = _decode_definitions(kwargs[key], f"{where}.{key}")
    if cls is RatingQuestion and "definitions" in kwargs:
        kwargs["definitions"] = _decode_meanings(kwargs["definitions"], f"{where}.definitions")
    try:
        return cls(**kwargs)
    except TaskError as err:
        raise TaskError(f"{where}: {err}") from None


def _decode_meanings(value: object, where: str) -> dict[int, str]:
    if not isinstance(value, list):
        raise TaskError(f"{where} must be a list of {{'value', 'definition'}} objects.")
    out: dict[int, str] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise TaskError(f"{where}[{i}] must be an object with a 'value' and a 'definition'.")
        _check_keys(entry, {"value", "definition"}, f"{where}[{i}]")
        out[entry["value"]] = entry.get("definition", "")
    return out


def _decode_definitions(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, list):
        raise TaskError(f"{where} must be a list of {{'name', 'definition'}} objects.")
    out: dict[str, str] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise TaskError(f"{where}[{i}] must be an object with a 'name' and a 'definition'.")
        _check_keys(entry, {"name", "definition"}, f"{where}[{i}]")
        name = entry["name"]
        if name in out:
            raise TaskError(
                f"{where}: duplicate label {name!r}. Label names must be unique: "
                "merge the two definitions or rename one."
            )
        definition = entry.get("definition", "")
        _check_type(definition, str, f"{where}[{i}].definition", "a string")
        out[name] = definition
    return out


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise TaskError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {_describe_allowed(sorted(allowed))}."
        )
