"""Markdown pieces every reader of a guide shares: the markdown-it presets, rule ids, slugs, fences.

A leaf: it imports nothing of labelbook, so `notebook` (which finds headings and rules), `lint`
(which reads links and label mentions), `render` (which writes HTML and markdown) and `releases`
(which compares prose without its rules) agree on one definition of each.

markdown-it-py is imported on first use, so `import labelbook` stays fast.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = [
    "FENCE_OPENING",
    "RULE_CITATION",
    "RULE_ID",
    "RULE_MARK",
    "RULE_STATEMENT",
    "block_parser",
    "fence",
    "inline_code",
    "slugify",
    "source_parser",
]

RULE_ID = r"R(?:-|\d)[A-Za-z0-9_.-]*"
"""A rule id: `R-verified`, `R1`, `R2.3` (the text between the brackets of `[R-id]`)."""
RULE_STATEMENT = re.compile(rf"^\[({RULE_ID})\][ \t]*")
"""A paragraph or list item that states a rule starts with `[R-id]`."""
RULE_CITATION = re.compile(rf"\[({RULE_ID})\]")
"""`[R-id]` anywhere: a rule stated or cited."""
RULE_MARK = re.compile(rf"\[({RULE_ID})\]|(?<![\w\[-])({RULE_ID}[A-Za-z0-9])(?![\w-])")
"""`[R-id]` (group 1), or a rule id written bare, "(R-verified)" (group 2: a citation only if
the rule exists)."""
FENCE_OPENING = re.compile(r"^ {0,3}(`{3,}|~{3,})")
"""The opening (or closing) line of a fenced code block; group 1 is the fence."""


def slugify(text: str) -> str:
    """A heading's anchor, as GitHub makes it: lowercase words joined by '-', punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s-]+", "-", text).strip("-") or "section"


def commonmark() -> MarkdownIt:
    """A new parser of the preset every guide is read with: CommonMark, raw HTML allowed, tables."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")


@functools.cache
def source_parser() -> MarkdownIt:
    """The guide's markdown as written (shared, do not `.use()` it): `commonmark()` with front
    matter and footnotes, so neither is mistaken for prose."""
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    return commonmark().use(front_matter_plugin).use(footnote_plugin)


@functools.cache
def block_parser() -> MarkdownIt:
    """CommonMark, block level only: where headings and paragraphs start and end, nothing inline."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable(["inline", "text_join"])


def fence(text: str, info: str = "") -> str:
    """A fenced code block that no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{info}\n{text.rstrip(chr(10))}\n{marks}"


def inline_code(text: str) -> str:
    """A code span that shows `text` verbatim, on one line, whatever backticks it holds."""
    text = text.replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{marks}{pad}{text}{pad}{marks}"
