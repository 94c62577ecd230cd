"""Questions: what an annotator answers, with the definitions of its labels."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import ClassVar, TypeAlias

from labelbook.errors import TaskError
from labelbook.task.checks import (
    check_definitions,
    check_name,
    check_type,
    describe_allowed,
    readable_name,
)

__all__ = [
    "QUESTION_TYPES",
    "LabelQuestion",
    "MultiLabelQuestion",
    "Question",
    "RankingQuestion",
    "RatingQuestion",
    "SpanQuestion",
    "TextQuestion",
]


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
        check_name(self.name, type(self).__name__)
        where = f"question {self.name!r}"
        check_type(self.title, str, f"{where}: title", "a string")
        check_type(self.description, str, f"{where}: description", "a string")
        check_type(self.required, bool, f"{where}: required", "True or False")
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
        object.__setattr__(
            self, "labels", check_definitions(self.labels, f"question {self.name!r}: labels", 2)
        )

    def validate_value(self, value: object) -> None:
        if not isinstance(value, str) or value not in self.labels:
            raise TaskError(
                f"{value!r} is not a label of question {self.name!r}; "
                f"allowed: {describe_allowed(list(self.labels))}."
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
        object.__setattr__(
            self, "labels", check_definitions(self.labels, f"question {self.name!r}: labels", 2)
        )

    def validate_value(self, value: object) -> None:
        allowed = describe_allowed(list(self.labels))
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
            check_type(v, int, where, "integers from 0 to 10")
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
            check_type(meaning, str, f"{where}: the meaning of {value}", "a string")
        ordered = {value: self.definitions[value] for value in values if value in self.definitions}
        object.__setattr__(self, "definitions", ordered)

    def validate_value(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value not in self.values:
            raise TaskError(
                f"{value!r} is not a value of question {self.name!r}; "
                f"allowed: {describe_allowed(self.values)}."
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
        object.__setattr__(
            self, "values", check_definitions(self.values, f"question {self.name!r}: values", 2)
        )

    def validate_value(self, value: object) -> None:
        allowed = describe_allowed(list(self.values))
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
        check_type(self.use_markdown, bool, f"question {self.name!r}: use_markdown", "True or False")

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
        check_type(self.field, str, f"{where}: field", "the name of a TextField")
        check_type(self.allow_overlapping, bool, f"{where}: allow_overlapping", "True or False")
        object.__setattr__(self, "labels", check_definitions(self.labels, f"{where}: labels", 1))

    def validate_value(self, value: object) -> None:
        """A list of `{"start": int, "end": int, "label": str}` with 0 <= start < end."""
        where = f"question {self.name!r}"
        allowed = describe_allowed(list(self.labels))
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
QUESTION_TYPES: dict[str, type[Question]] = {
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
