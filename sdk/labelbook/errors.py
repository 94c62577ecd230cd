"""The exceptions labelbook raises: one root, a few precise subclasses.

Messages say what was wrong, where, and what to do about it.
"""

from __future__ import annotations

__all__ = ["BackendError", "LabelbookError", "NotebookError", "ServerError", "TaskError"]


class LabelbookError(Exception):
    """Root of every error labelbook raises on purpose."""


class BackendError(LabelbookError):
    """An Argilla server refused or could not answer a request."""


class ServerError(LabelbookError):
    """The embedded Argilla server could not be started, stopped or inspected."""


class TaskError(LabelbookError):
    """A task schema, a task.json, a record or an answer is invalid."""


class NotebookError(LabelbookError):
    """A notebook cannot be read into a Guide; the message names the file, the cell and the fix."""
