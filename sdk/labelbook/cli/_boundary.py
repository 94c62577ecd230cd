"""The one place a LabelbookError becomes an exit code and a line on stderr."""

from __future__ import annotations

import sys
from typing import Any

import click

from labelbook.errors import (
    BackendError,
    LabelbookError,
    NotebookError,
    RecordsError,
    ReleaseError,
    ServerError,
    TaskError,
    TemplateNotFound,
)

FAILURE = 1
"""Refused, failed, or findings: the input was understood."""

UNUSABLE = 2
"""The input cannot be used (a file, a cell, an option); nothing was done."""

EXIT_CODES: dict[type[BaseException], int] = {
    LabelbookError: UNUSABLE,
    NotebookError: UNUSABLE,
    TaskError: UNUSABLE,
    TemplateNotFound: UNUSABLE,
    RecordsError: UNUSABLE,
    ReleaseError: FAILURE,
    BackendError: FAILURE,
    ServerError: FAILURE,
}
"""Error class → exit code; an error takes the code of its nearest class listed here."""

_ADAPTER_CODES = {"ProjectConflict": FAILURE, "PublishLocked": FAILURE}
# The adapter's own refusals. They are looked up only once `labelbook.argilla` is loaded (only it
# raises them): importing it for a lint error would load the argilla SDK, which may be absent.


def exit_code(err: LabelbookError) -> int:
    """The exit code of an error: that of its nearest class in `EXIT_CODES`."""
    table = dict(EXIT_CODES)
    adapter = sys.modules.get("labelbook.argilla")
    if adapter is not None:
        table.update({getattr(adapter, name): code for name, code in _ADAPTER_CODES.items()})
    for cls in type(err).__mro__:
        if cls in table:
            return table[cls]
    return UNUSABLE  # unreachable: LabelbookError is in the table


class LabelbookGroup(click.Group):
    """A group whose every command's LabelbookError is printed and exits by `EXIT_CODES`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LabelbookError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            raise click.exceptions.Exit(exit_code(err)) from err
