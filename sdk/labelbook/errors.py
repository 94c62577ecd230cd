"""The exceptions labelbook raises: one root, a few precise subclasses.

Messages say what was wrong, where, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "BackendError",
    "ChangedRecordsWarning",
    "GoldLeakWarning",
    "LabelbookError",
    "NotebookError",
    "RecordsError",
    "ReleaseError",
    "ServerError",
    "TaskError",
    "TemplateNotFound",
]


class LabelbookError(Exception):
    """Root of every error labelbook raises on purpose."""


class BackendError(LabelbookError):
    """An Argilla server refused or could not answer a request."""


class RecordsError(LabelbookError):
    """Records (or a roster, or gold answers) cannot be published as given; nothing was uploaded.

    The message lists the first problems, each with its row number; `.problems` holds them all.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)
        """Every problem found, one line each, with the row number."""


class ServerError(LabelbookError):
    """The embedded Argilla server could not be started, stopped or inspected."""


class TaskError(LabelbookError):
    """A task schema, a task.json, a record or an answer is invalid."""


class NotebookError(LabelbookError):
    """A notebook cannot be read into a Guide; the message names the file, the cell and the fix."""

    def __init__(
        self, message: str, *, path: Path | None = None, cell: int | None = None, fix: str = ""
    ) -> None:
        super().__init__(f"{message} {fix}" if fix else message)
        self.problem: str = message
        """What is wrong and where, without the fix."""
        self.path: Path | None = path
        """The notebook at fault (set by the pipeline for every error it raises)."""
        self.cell: int | None = cell
        """The 1-based number of the cell at fault, when one is."""
        self.fix: str = fix
        """What to change (also the end of the message), when it is said apart from the problem."""


class ReleaseError(LabelbookError):
    """A release cannot be made or read: blocked by lint, a lower --bump, a concurrent release, a
    release folder edited by hand, an unknown version. The message names the file and the fix."""

    def __init__(self, message: str, findings: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.findings: tuple[Any, ...] = tuple(findings)
        """The lint findings that blocked the release, if that is why (`labelbook.lint.Finding`)."""


class TemplateNotFound(LabelbookError):
    """No instruction template of that name or path; the message lists every place searched."""

    def __init__(self, message: str, searched: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.searched: tuple[Path, ...] = tuple(searched)
        """The paths looked at, in lookup order."""


class ChangedRecordsWarning(UserWarning):
    """Rows whose id is already published carry other fields or metadata; they were left as published."""


class GoldLeakWarning(UserWarning):
    """Suggestions would let contractors tell the gold records apart, or give their answer away."""
