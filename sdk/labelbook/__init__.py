"""labelbook: notebook → versioned labeling guidelines → Argilla project → annotations in pandas.

`import labelbook` stays fast: the embedded server, argilla, pandas and the notebook libraries
(nbformat, jupytext, PyYAML, markdown-it-py) are imported lazily, by the functions that need them.
"""

# No `from __future__ import annotations` here: it would bind `labelbook.annotations` to the
# __future__ feature and hide the `labelbook.annotations` module from `from labelbook import annotations`.
from typing import TYPE_CHECKING, Any

from labelbook.errors import (
    BackendError,
    ChangedRecordsWarning,
    GoldLeakWarning,
    LabelbookError,
    NotebookError,
    RecordsError,
    ReleaseError,
    ServerError,
    TaskError,
    TemplateNotFound,
)
from labelbook.guide import CellOutput, Guide, Markdown, Rule, Section, WorkedExample

# Imported now, not lazily: bound after the `labelbook.lint` module is loaded, so `lb.lint` stays the
# function whatever imports the module later (a lazy name would be shadowed by the submodule).
from labelbook.lint import lint
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

# Imported on first use, so `import labelbook` stays fast: name → the module that defines it.
# The releases (`lb.release(...)`) need markdown-it and Jinja2; the Argilla adapter (`lb.publish`,
# `lb.Project`) loads argilla and pandas.
_LAZY = {
    **dict.fromkeys(
        ("Release", "Version", "diff_versions", "list_releases", "open_release", "release"),
        "labelbook.releases",
    ),
    **dict.fromkeys(("Project", "publish"), "labelbook.argilla"),
    # Pipelines (stages, steps, lineage, routing) build on the adapter.
    "Pipeline": "labelbook.pipelines",
}

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from labelbook.argilla.project import Project
    from labelbook.argilla.publish import publish
    from labelbook.pipelines import Pipeline
    from labelbook.releases import Release, Version, diff_versions, list_releases, open_release, release


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labelbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BackendError",
    "CellOutput",
    "ChangedRecordsWarning",
    "ChatField",
    "ChatMessage",
    "Example",
    "FloatMetadata",
    "GoldLeakWarning",
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
    "lint",
    "list_releases",
    "load",
    "open_release",
    "publish",
    "release",
]
