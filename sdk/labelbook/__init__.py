"""labelbook: notebook → versioned labeling guidelines → Argilla project → annotations in pandas.

`import labelbook` stays fast: the embedded server, argilla, pandas and the notebook libraries
(nbformat, jupytext, PyYAML, markdown-it-py) are imported lazily, by the functions that need them.
"""

from __future__ import annotations

from labelbook.errors import (
    BackendError,
    LabelbookError,
    NotebookError,
    ServerError,
    TaskError,
    TemplateNotFound,
)
from labelbook.guide import CellOutput, Guide, Markdown, Rule, Section, WorkedExample
from labelbook.notebook import load
from labelbook.task import (
    ChatField,
    ChatMessage,
    Example,
    FloatMetadata,
    ImageField,
    IntegerMetadata,
    LabelQuestion,
    MultiLabelQuestion,
    RankingQuestion,
    RatingQuestion,
    SpanQuestion,
    Task,
    TermsMetadata,
    TextField,
    TextQuestion,
    ToolCall,
)

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CellOutput",
    "ChatField",
    "ChatMessage",
    "Example",
    "FloatMetadata",
    "Guide",
    "ImageField",
    "IntegerMetadata",
    "LabelQuestion",
    "LabelbookError",
    "Markdown",
    "MultiLabelQuestion",
    "NotebookError",
    "RankingQuestion",
    "RatingQuestion",
    "Rule",
    "Section",
    "ServerError",
    "SpanQuestion",
    "Task",
    "TaskError",
    "TemplateNotFound",
    "TermsMetadata",
    "TextField",
    "TextQuestion",
    "ToolCall",
    "WorkedExample",
    "__version__",
    "load",
]
