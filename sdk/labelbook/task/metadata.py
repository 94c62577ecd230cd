"""Metadata declarations: the properties records carry for filtering, not shown as fields."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, TypeAlias

from labelbook.errors import TaskError
from labelbook.task.checks import (
    check_name,
    check_type,
    describe_allowed,
)

__all__ = ["METADATA_TYPES", "FloatMetadata", "IntegerMetadata", "Metadata", "TermsMetadata"]


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
        check_name(self.name, type(self).__name__)
        where = f"metadata {self.name!r}"
        check_type(self.title, str, f"{where}: title", "a string")
        check_type(self.visible_for_annotators, bool, f"{where}: visible_for_annotators", "True or False")
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
            check_type(option, str, where, "strings")
        if len(set(options)) != len(options) or not options:
            raise TaskError(f"{where} must be distinct and non-empty, got {list(options)}.")
        object.__setattr__(self, "options", options)

    def validate_value(self, value: object) -> None:
        check_type(value, str, f"metadata {self.name!r}", "a string")
        if self.options is not None and value not in self.options:
            raise TaskError(
                f"{value!r} is not an option of metadata {self.name!r}; "
                f"allowed: {describe_allowed(self.options)}."
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
                check_type(value, self.number, f"metadata {self.name!r}: {bound}", self.number_name)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise TaskError(f"metadata {self.name!r}: min {self.min} is greater than max {self.max}.")

    def validate_value(self, value: object) -> None:
        where = f"metadata {self.name!r}"
        check_type(value, self.number, where, self.number_name)
        assert isinstance(value, int | float)  # narrowed by check_type, for mypy
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
METADATA_TYPES: dict[str, type[Metadata]] = {
    cls.kind: cls for cls in (TermsMetadata, IntegerMetadata, FloatMetadata)
}
