"""The exceptions labelbook raises: one root, a few precise subclasses.

Messages say what was wrong, where, and what to do about it.
"""

from __future__ import annotations

__all__ = ["BackendError", "LabelbookError", "ServerError"]


class LabelbookError(Exception):
    """Root of every error labelbook raises on purpose."""


class BackendError(LabelbookError):
    """An Argilla server refused or could not answer a request."""


class ServerError(LabelbookError):
    """The embedded Argilla server could not be started, stopped or inspected."""
