"""The one pipeline from a notebook to the documents contractors read:

    notebook file ──read + preprocess──▶ Guide ──lint──▶ findings
                                           └───render──▶ documents (guide.md, guide.html, task.json)

`labelbook build`, `labelbook lint`, `labelbook release` and the notebook widgets all go through
`build` (or `lint_path`), so they cannot drift apart. Everything is in memory; `Build.write` puts
the documents on disk atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelbook import notebook
from labelbook.errors import NotebookError
from labelbook.files import write_texts
from labelbook.guide import Guide
from labelbook.lint import Finding, finding, lint
from labelbook.render import render_all

__all__ = ["Build", "build", "guide_of", "lint_path"]

Source = Guide | str | os.PathLike[str]
"""A Guide already loaded, or the path of its notebook."""


@dataclass(frozen=True)
class Build:
    """A guide built: its findings and its documents, in memory."""

    guide: Guide
    """The notebook read."""
    findings: tuple[Finding, ...]
    """The lint's findings, errors first (empty when the lint was skipped)."""
    documents: Mapping[str, str] = field(repr=False)
    """File name → text: guide.md, guide.html, task.json (and whatever a release adds)."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that block a release."""
        return tuple(f for f in self.findings if f.severity == "error")

    def write(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write every document into `directory` (created if missing), atomically; the paths written."""
        return write_texts(directory, self.documents)


def guide_of(source: Source) -> Guide:
    """The Guide itself, or the notebook at that path loaded (`labelbook.load`)."""
    return source if isinstance(source, Guide) else notebook.load(source)


def build(
    source: Source,
    templates: Sequence[str | os.PathLike[str]] = (),
    *,
    lint_guide: bool = True,
    release: Mapping[str, Any] | None = None,
) -> Build:
    """Load (when given a path), lint (unless `lint_guide` is False) and render a guide.

    `templates` replace the default templates for the files they hold; `release` fills the
    release banner (see `labelbook.render.render_all`).
    """
    guide = guide_of(source)
    findings = tuple(lint(guide)) if lint_guide else ()
    return Build(guide, findings, render_all(guide, templates, release=release))


def lint_path(path: str | os.PathLike[str]) -> tuple[Guide | None, list[Finding]]:
    """Load a notebook and lint it; a missing or failing task cell is a finding (LB104), not an exception.

    The guide is None then: nothing else can be checked (`labelbook lint` exits 2, as `build` does).
    Any other NotebookError (unreadable file, failing example cell...) is raised: the input is unusable.
    """
    nb, resources = notebook.read(path)
    steps = notebook.PREPROCESSORS
    task_step = steps.index(notebook.run_task_cell)
    nb, resources = notebook.preprocess(nb, resources, steps[:task_step])
    try:
        nb, resources = notebook.preprocess(nb, resources, (notebook.run_task_cell,))
    except NotebookError as err:
        fix = err.fix or (
            f"Tag one code cell {notebook.TASK_TAG!r} and make it bind `task = lb.Task(...)`; it must "
            "run on its own, without a kernel."
        )
        return None, [finding("LB104", err.problem, fix, err.cell)]
    nb, resources = notebook.preprocess(nb, resources, steps[task_step + 1 :])
    guide = notebook.build_guide(nb, resources)
    return guide, lint(guide)
