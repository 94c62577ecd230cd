"""How the lint reads a guide's prose: the texts a contractor reads, their markdown tokens (parsed
once per text for every check), and where a label is named."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labelbook.guide import Guide, Markdown, Section, WorkedExample
from labelbook.markup import source_parser

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = [
    "ARTICLES",
    "COMMON_WORDS",
    "Words",
    "ambiguous",
    "inline_tokens",
    "mentions",
    "normal_name",
    "parsed",
    "prose_blocks",
    "same_name",
    "section_texts",
    "spelled",
    "walk",
    "words_of",
]

COMMON_WORDS = frozenset(
    {
        "a", "an", "the", "this", "that", "these", "those", "each", "every", "any", "some", "no",
        "none", "not", "nor", "yes", "or", "and", "but", "if", "so", "as", "at", "by", "for", "from",
        "in", "into", "of", "off", "on", "onto", "out", "over", "to", "up", "with", "it", "its", "is",
        "are", "be", "was", "do", "does", "did", "can", "may", "must", "should", "will", "would", "one",
        "two", "all", "both", "either", "neither", "other", "same", "more", "less", "very", "too",
        "also", "only", "just", "good", "bad", "fine", "ok", "okay", "maybe", "unsure", "unclear",
        "unknown",
    }
)  # fmt: skip
"""Labels spelled like these (and single letters) count as named only when marked or next to "label"."""

ARTICLES = frozenset({"a", "an", "the", "this", "that", "each", "every", "any", "some", "no", "one"})
# "label a record ..." and "pick a label" use the article: for these labels, "label X" is not enough.


def section_texts(section: Section, free_text: set[str]) -> list[str]:
    """Every markdown text a contractor reads in a section: title, prose, worked examples' titles,
    explanations and answers to the `free_text` questions (a rationale)."""
    texts = [section.title]
    for block in section.blocks:
        if isinstance(block, Markdown):
            texts.append(block.text)
        elif isinstance(block, WorkedExample):
            texts += [block.title, block.explanation]
            texts += [v for k, v in block.answers.items() if k in free_text and isinstance(v, str)]
    return [text for text in texts if text]


def prose_blocks(guide: Guide) -> Iterator[tuple[Section, int, str]]:
    """(section, cell, markdown) for every piece of researcher-written prose."""
    for section in guide.sections:
        if section.title:
            yield section, section.cell, section.title
        for block in section.blocks:
            if isinstance(block, Markdown):
                yield section, block.cell, block.text
            elif isinstance(block, WorkedExample) and block.explanation:
                yield section, block.cell, block.explanation


@dataclass(frozen=True)
class Words:
    """A markdown text split by how each piece names things, for finding label mentions."""

    marked: tuple[str, ...]
    """Code spans, bold or italic runs and quoted phrases: what the writer set apart as a name."""
    plain: str
    """The remaining prose, set-apart pieces replaced by a NUL so words never join across them."""
    referenced: tuple[str, ...]
    """Code spans and quoted phrases right after or before the word "label" ("label `x`", "`x` label")."""


_LABEL_WORD_BEFORE = re.compile(r"\blabels?\s*$", re.I)
_LABEL_WORD_AFTER = re.compile(r"^\s*labels?\b", re.I)
_QUOTED = re.compile(
    r"""["\u201c]([^"\u201c\u201d\n]{1,80})["\u201d]|(?<![\w'])['\u2018]([^'\u2018\u2019\n]{1,80})['\u2019](?!\w)"""
)


@functools.lru_cache(maxsize=4096)
def words_of(text: str) -> Words:
    pieces: list[tuple[str, str]] = []  # ("code" | "marked" | "text", content)
    for block in parsed(text):
        if block.type != "inline" or not block.children:
            continue
        emphasis = 0
        for token in block.children:
            if token.type in ("strong_open", "em_open"):
                emphasis += 1
            elif token.type in ("strong_close", "em_close"):
                emphasis = max(0, emphasis - 1)
            elif token.type == "code_inline":
                pieces.append(("code", token.content))
            elif token.type == "text":
                pieces.append(("marked" if emphasis else "text", token.content))
            elif token.type in ("softbreak", "hardbreak"):
                pieces.append(("text", " "))
        pieces.append(("text", "\n"))
    marked: list[str] = []
    referenced: list[str] = []
    plain: list[str] = []
    for index, (kind, content) in enumerate(pieces):
        if kind == "text":
            for match in _QUOTED.finditer(content):
                quoted = match.group(1) or match.group(2)
                marked.append(quoted)
                after = content[match.end() :]
                if _LABEL_WORD_BEFORE.search(content[: match.start()]) or _LABEL_WORD_AFTER.match(after):
                    referenced.append(quoted)
            plain.append(content)
            continue
        marked.append(content)
        plain.append("\0")
        if kind == "code":
            before = pieces[index - 1][1] if index else ""
            after = pieces[index + 1][1] if index + 1 < len(pieces) else ""
            if _LABEL_WORD_BEFORE.search(before) or _LABEL_WORD_AFTER.match(after):
                referenced.append(content)
    return Words(tuple(marked), "".join(plain), tuple(referenced))


def normal_name(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip()).casefold()


def same_name(found: str, label: str) -> bool:
    """Whether a set-apart piece is the label: exact for one letter, else ignoring case, _, - and space."""
    return found.strip() == label if len(label) == 1 else normal_name(found) == normal_name(label)


def ambiguous(label: str) -> bool:
    """A label that reads as an ordinary word when it is not marked: a single letter or a common word."""
    return len(label) == 1 or normal_name(label) in COMMON_WORDS


def spelled(label: str) -> str:
    """A regex for the label as a whole word, `_`, `-` and a space interchangeable."""
    return "[_ -]".join(re.escape(part) for part in re.split(r"[_\s-]+", label))


def mentions(text: str, label: str) -> bool:
    """Whether the text names the label (see the module docstring for what counts)."""
    words = words_of(text)
    if any(same_name(piece, label) for piece in words.marked):
        return True
    flags = 0 if len(label) == 1 else re.I
    name = r"(?<![\w-])" + spelled(label) + r"(?![\w-])"
    if not ambiguous(label):
        return re.search(name, "\0".join((words.plain, *words.marked)), flags) is not None
    if normal_name(label) in ARTICLES:
        return False
    return re.search(rf"\blabels?\s+{name}|{name}\s+labels?\b", words.plain, flags) is not None


@functools.lru_cache(maxsize=4096)
def parsed(text: str) -> tuple[Token, ...]:
    """A markdown text's block tokens, parsed once per text for every check."""
    return tuple(source_parser().parse(text))


@functools.lru_cache(maxsize=4096)
def inline_tokens(text: str) -> tuple[Token, ...]:
    """Every inline token of a markdown text (links, images, raw HTML)."""
    found: list[Token] = []
    for token in parsed(text):
        if token.type == "inline" and token.children:
            found += walk(token.children)
    return tuple(found)


def walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from walk(token.children)
