"""labelbook's Jupyter extension: ipywidgets to preview, try, monitor and explore a labeling task.

    from labelbook_jupyter import Preview, TryIt
    Preview("guide.ipynb")                            # what contractors will see
    TryIt("guide.ipynb", "records.jsonl", gold="gold.jsonl").answers

The widgets are thin compositions of standard ipywidgets (no custom JavaScript) over plain Python
classes that tests drive (`Pager`, `Trial`, `AnswerForm`); the SDK renders everything they show.
`%load_ext labelbook_jupyter` adds the `%labelbook` magic.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Disagreements", "Monitor", "Preview", "TryIt", "load_ipython_extension"]

_WIDGETS = {
    "Preview": "labelbook_jupyter.preview",
    "TryIt": "labelbook_jupyter.tryit",
    "Monitor": "labelbook_jupyter.monitor",
    "Disagreements": "labelbook_jupyter.disagreements",
}


def __getattr__(name: str) -> Any:
    # ipywidgets and the SDK's renderers load on first use, so `%load_ext` stays instant.
    if name in _WIDGETS:
        import importlib

        return getattr(importlib.import_module(_WIDGETS[name]), name)
    raise AttributeError(f"module 'labelbook_jupyter' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext labelbook_jupyter`: registers `%labelbook preview|try|monitor|disagreements ARG`."""
    from labelbook_jupyter.magics import register

    register(ipython)
