"""Fields: what a record shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, TypeAlias

from labelbook.errors import TaskError
from labelbook.task.chat import ChatMessage
from labelbook.task.checks import (
    check_name,
    check_type,
    readable_name,
)

__all__ = ["FIELD_TYPES", "ChatField", "Field", "ImageField", "TextField"]


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
        check_name(self.name, f"{type(self).__name__}")
        where = f"field {self.name!r}"
        check_type(self.title, str, f"{where}: title", "a string")
        check_type(self.description, str, f"{where}: description", "a string")
        check_type(self.required, bool, f"{where}: required", "True or False")
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @property
    def display_title(self) -> str:
        """The title shown to people: the one given, else the name made readable ("Answer A")."""
        return readable_name(self.name) if self.title == self.name else self.title

    def validate_value(self, value: object) -> None:
        """Raise TaskError unless `value` is a valid record value for this field."""
        check_type(value, str, f"field {self.name!r}", "a string")


@dataclass(frozen=True)
class TextField(_Field):
    """Text shown as is, or rendered as markdown."""

    _: KW_ONLY
    use_markdown: bool = False
    """Render the value as markdown rather than plain text."""

    kind: ClassVar[str] = "text"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_type(self.use_markdown, bool, f"field {self.name!r}: use_markdown", "True or False")


@dataclass(frozen=True)
class ChatField(_Field):
    """A conversation or agent trajectory: messages with roles, tool calls, shell commands and output."""

    _: KW_ONLY
    use_markdown: bool = True
    """Render message contents as markdown."""

    kind: ClassVar[str] = "chat"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_type(self.use_markdown, bool, f"field {self.name!r}: use_markdown", "True or False")

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
FIELD_TYPES: dict[str, type[Field]] = {cls.kind: cls for cls in (TextField, ChatField, ImageField)}
