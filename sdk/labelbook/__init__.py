"""labelbook: notebook → versioned labeling guidelines → Argilla project → annotations in pandas.

`import labelbook` stays fast: the embedded server, argilla and pandas are imported lazily,
by the modules that need them.
"""

from __future__ import annotations

from labelbook.errors import BackendError, LabelbookError, ServerError

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "LabelbookError",
    "ServerError",
    "__version__",
]
