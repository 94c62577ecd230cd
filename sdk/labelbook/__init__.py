"""labelbook: notebook → versioned labeling guidelines → Argilla project → annotations in pandas.

`import labelbook` stays fast: the embedded server, argilla, pandas and the notebook libraries
(nbformat, jupytext, PyYAML, markdown-it-py) are imported lazily, by the functions that need them.
"""

# No `from __future__ import annotations` here: it would bind `labelbook.annotations` to the
# __future__ feature and hide the `labelbook.annotations` module from `from labelbook import annotations`.
from typing import Any

from labelbook.errors import (
    BackendError,
    ChangedRecordsWarning,
    LabelbookError,
    NotebookError,
    RecordsError,
    ReleaseError,
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

# Release functions, imported on first use (`lb.release(...)`, `lb.Release`); see labelbook.releases.
_LAZY_RELEASES = ("Release", "Version", "diff_versions", "list_releases", "open_release", "release")
# The Argilla adapter, imported on first use (`lb.publish`, `lb.Project`): it loads argilla and pandas.
_LAZY_ARGILLA = ("Project", "publish")
# Pipelines (stages, steps, lineage, routing), imported on first use (`lb.Pipeline`).
_LAZY_PIPELINES = ("Pipeline",)


def __getattr__(name: str) -> Any:
    if name in _LAZY_RELEASES:
        from labelbook import releases

        return getattr(releases, name)
    if name in _LAZY_ARGILLA:
        from labelbook import argilla

        return getattr(argilla, name)
    if name in _LAZY_PIPELINES:
        from labelbook import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'labelbook' has no attribute {name!r}")


__all__ = [
    "BackendError",
    "CellOutput",
    "ChangedRecordsWarning",
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
    "Pipeline",
    "Project",
    "RankingQuestion",
    "RatingQuestion",
    "RecordsError",
    "Release",
    "ReleaseError",
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
    "Version",
    "WorkedExample",
    "__version__",
    "diff_versions",
    "list_releases",
    "load",
    "open_release",
    "publish",
    "release",
]
