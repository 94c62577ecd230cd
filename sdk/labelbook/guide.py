"""The Guide: a notebook read into the document that contractors, the renderer and the lint use.

A Guide is plain data (frozen dataclasses, no notebook or markdown library needed to use it):
the task, the title and front-matter metadata, and the sections in notebook order. Each section
keeps its content as ordered blocks (markdown, worked examples, stored cell outputs) so a
renderer can show them where the researcher put them, and its rules, which carry stable ids
that reports cite. Everything records the 1-based notebook cell it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from labelbook.task import Example, Task

__all__ = ["Block", "CellOutput", "Guide", "Markdown", "Rule", "Section", "WorkedExample"]


@dataclass(frozen=True)
class Markdown:
    """Prose from a markdown cell, without the section's heading."""

    text: str
    """Markdown source (attachments already inlined as data URIs)."""
    cell: int
    """1-based notebook cell number."""


@dataclass(frozen=True)
class CellOutput:
    """A stored output of a code cell tagged `labelbook:show-output`."""

    kind: Literal["text", "html", "markdown", "image"]
    """How to show it: preformatted text, an HTML fragment (tables), markdown, or an image."""
    mime_type: str
    """The output's MIME type, e.g. "text/html" or "image/png"."""
    data: str
    """The text, HTML or markdown; for images the base64 payload without line breaks."""
    cell: int
    """1-based notebook cell number."""
    alt: str = ""
    """Alternative text for images (empty when the notebook gives none; the lint flags it)."""


@dataclass(frozen=True)
class WorkedExample:
    """An `lb.Example` placed in the guide: its id, its section and its cell."""

    id: str
    """Stable id: the example's own `id`, or `<section id>-example-<n>` (n counts within the section)."""
    section_id: str
    """Id of the section the example appears in."""
    cell: int
    """1-based notebook cell number of the `labelbook:example` cell."""
    example: Example
    """The record, the correct answers and the explanation."""

    @property
    def record(self) -> Mapping[str, Any]:
        """Field name → value."""
        return self.example.record

    @property
    def answers(self) -> Mapping[str, Any]:
        """Question name → correct answer."""
        return self.example.answers

    @property
    def explanation(self) -> str:
        """Why the answers are right (markdown)."""
        return self.example.explanation

    @property
    def title(self) -> str:
        """Short name of the case, possibly empty."""
        return self.example.title


Block: TypeAlias = Markdown | WorkedExample | CellOutput


@dataclass(frozen=True)
class Rule:
    """A rule a report can cite: a paragraph or list item starting with `[R-some-id]`."""

    id: str
    """The id as written, e.g. "R-partial-tests"."""
    text: str
    """The rule's markdown without its marker."""
    section_id: str
    """Id of the section the rule appears in."""
    cell: int
    """1-based notebook cell number."""


@dataclass(frozen=True)
class Section:
    """A part of the guide under one heading of level 1 to 3 (level 0: the text before any heading)."""

    id: str
    """Stable anchor: the heading's slug, or the `{#custom-id}` written after the heading."""
    title: str
    """Heading text without the id marker; empty for the introduction."""
    level: int
    """Heading level 1–3; 0 for the introduction (text before the first section heading)."""
    blocks: tuple[Block, ...]
    """Content in notebook order."""
    rules: tuple[Rule, ...]
    """Rules stated in this section, in order."""
    cells: tuple[int, ...]
    """1-based numbers of the cells that contribute to this section, in order."""
    explicit_id: bool = False
    """Whether the id was written by the researcher (`{#id}`) rather than derived from the title."""

    @property
    def cell(self) -> int:
        """The cell the section starts in (its heading's cell)."""
        return self.cells[0]

    @property
    def body(self) -> str:
        """The section's markdown, without its heading, examples or outputs."""
        return "\n\n".join(block.text for block in self.blocks if isinstance(block, Markdown))

    @property
    def examples(self) -> tuple[WorkedExample, ...]:
        """Worked examples that appear in this section."""
        return tuple(block for block in self.blocks if isinstance(block, WorkedExample))

    @property
    def outputs(self) -> tuple[CellOutput, ...]:
        """Stored cell outputs shown in this section."""
        return tuple(block for block in self.blocks if isinstance(block, CellOutput))


@dataclass(frozen=True)
class Guide:
    """A notebook read by `labelbook.load`: the task and the instructions around it."""

    title: str
    """From the front matter's `title`, else the first level-1 heading, else the file name."""
    metadata: Mapping[str, Any]
    """The YAML front matter (empty when there is none)."""
    task: Task
    """The task bound by the `labelbook:task` cell."""
    task_cell: int
    """1-based number of the `labelbook:task` cell."""
    sections: tuple[Section, ...]
    """Sections in notebook order."""
    source_path: Path
    """The notebook file."""
    source_hash: str
    """sha256 (hex) of the notebook file's bytes."""

    @property
    def examples(self) -> tuple[WorkedExample, ...]:
        """Every worked example, in notebook order."""
        return tuple(example for section in self.sections for example in section.examples)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, in notebook order."""
        return tuple(rule for section in self.sections for rule in section.rules)

    def section(self, id: str) -> Section:
        """The section with this id; KeyError lists the known ids otherwise."""
        for section in self.sections:
            if section.id == id:
                return section
        raise KeyError(f"no section {id!r}; sections: {', '.join(s.id for s in self.sections)}")

    def __repr__(self) -> str:
        # Short: the dataclass repr would print every section, with base64 images.
        counts = f"{len(self.sections)} sections, {len(self.rules)} rules, {len(self.examples)} examples"
        return f"<Guide {self.title!r} from {self.source_path.name}: task {self.task.name!r}, {counts}>"

    def _repr_html_(self) -> str:
        """A summary in a notebook: the title, the counts, and each question's labels."""
        import html

        questions = "".join(
            f"<li><b>{html.escape(q.title)}</b> <code>{html.escape(q.name)}</code>"
            + (f": {html.escape(', '.join(q.meanings()))}" if q.meanings() else f" ({q.kind})")
            + "</li>"
            for q in self.task.questions
        )
        counts = (
            f"{len(self.sections)} sections · {len(self.rules)} rules · {len(self.examples)} worked examples"
        )
        return (
            f"<div><b>{html.escape(self.title)}</b> <small>{html.escape(self.source_path.name)}</small>"
            f"<br><small>task <code>{html.escape(self.task.name)}</code> · {counts}</small>"
            f"<ul>{questions}</ul></div>"
        )
