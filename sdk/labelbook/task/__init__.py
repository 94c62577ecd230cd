"""The task schema: what each record shows, what contractors answer, and worked examples.

A `Task` holds fields (what a record shows), questions (what an annotator answers), the
overlap (annotators per record) and metadata declarations. Names mirror the argilla SDK's
(`TextField`, `LabelQuestion`, `RatingQuestion`, ...) so Argilla users feel at home, but labels
carry their definitions: they become the glossary, the question descriptions and the lint's
reference. Nothing here imports argilla; `labelbook.argilla` converts a Task to dataset settings.

Every object is a frozen dataclass validated on construction (`TaskError` says what, where and
how to fix it). Sequences are stored as tuples and label maps as plain dicts in the order given.
`Task.to_json()` / `Task.from_json()` are lossless: task.json → Task → task.json is byte-identical.

Modules: `checks` (names, types, definitions), `chat` (chat values), `fields`, `questions`,
`metadata`, `schema` (Example, Task, task.json).
"""

from __future__ import annotations

from labelbook.task.chat import ChatMessage, ToolCall
from labelbook.task.checks import readable_name
from labelbook.task.fields import ChatField, Field, ImageField, TextField
from labelbook.task.metadata import FloatMetadata, IntegerMetadata, Metadata, TermsMetadata
from labelbook.task.questions import (
    LabelQuestion,
    MultiLabelQuestion,
    Question,
    RankingQuestion,
    RatingQuestion,
    SpanQuestion,
    TextQuestion,
)
from labelbook.task.schema import SCHEMA_VERSION, Example, Task

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
