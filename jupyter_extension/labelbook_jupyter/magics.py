"""`%labelbook preview|try|monitor|disagreements ARG [options]`, registered by `%load_ext labelbook_jupyter`.

ARG is a variable of the notebook (a Guide, a Release, a Project, a quality report) or a path
(a guide notebook). Each subcommand returns its widget, so it shows as the cell's result.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

__all__ = ["USAGE", "labelbook_magic", "register"]

USAGE = """\
%labelbook preview  GUIDE [--records FILE]
%labelbook try      GUIDE [--records FILE] [--gold FILE] [-n N] [--no-shuffle]
%labelbook monitor  NOTEBOOK_OR_PROJECT [--every SECONDS]
%labelbook disagreements NOTEBOOK_OR_PROJECT_OR_REPORT
GUIDE is a notebook path, or a variable holding a Guide or a Release."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel's process
        raise ValueError(message)


def _parser() -> _Parser:
    parser = _Parser(prog="%labelbook", add_help=False)
    parser.add_argument("command", choices=["preview", "try", "monitor", "disagreements"])
    parser.add_argument("source")
    parser.add_argument("--records")
    parser.add_argument("--gold")
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--no-shuffle", action="store_true")
    parser.add_argument("--every", type=float)
    return parser


def _value(name: str | None, namespace: dict[str, Any]) -> Any:
    """A variable of the notebook when ARG names one, else the text itself (a path)."""
    if name is None:
        return None
    return namespace[name] if name.isidentifier() and name in namespace else name


def labelbook_magic(line: str, namespace: dict[str, Any] | None = None) -> Any:
    """Run one `%labelbook` line; the widget, or a message widget saying what was wrong."""
    import ipywidgets as w

    from labelbook_jupyter._html import STYLE, message

    namespace = namespace or {}
    try:
        args = _parser().parse_args(shlex.split(line))
    except ValueError as err:
        box = w.HTML(STYLE + message(f"{err}\nUsage:\n{USAGE}"))
        box.add_class("lb-widget")
        return box
    source = _value(args.source, namespace)
    records = _value(args.records, namespace)
    if args.command == "preview":
        from labelbook_jupyter.preview import Preview

        return Preview(source, records)
    if args.command == "try":
        from labelbook_jupyter.tryit import TryIt

        return TryIt(
            source, records, n=args.n, gold=_value(args.gold, namespace), shuffle=not args.no_shuffle
        )
    if args.command == "monitor":
        from labelbook_jupyter.monitor import Monitor

        return Monitor(source, every=args.every)
    from labelbook_jupyter.disagreements import Disagreements

    return Disagreements(source)


def register(ipython: Any) -> None:
    """Register the `%labelbook` line magic in an IPython shell."""

    def labelbook(line: str) -> Any:
        return labelbook_magic(line, ipython.user_ns)

    labelbook.__doc__ = f"Labelbook widgets in the notebook.\n\n{USAGE}"
    ipython.register_magic_function(labelbook, "line", "labelbook")
