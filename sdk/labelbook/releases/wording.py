"""Wording: whether an edit is a typo fix or changes the meaning, and word-level highlights."""

from __future__ import annotations

import difflib
import re
from typing import Literal, TypeAlias

from rapidfuzz.distance import OSA

from labelbook.releases.version import Bump

__all__ = ["Segment", "is_typo_fix", "text_bump", "word_diff"]

_MARKUP = re.compile(r"[*_`~#>|\[\]()]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.U)
_NEGATIONS = frozenset(
    {
        "no", "not", "nor", "never", "none", "nothing", "cannot", "cant", "can't", "dont", "don't",
        "doesnt", "doesn't", "isnt", "isn't", "without", "unless", "only", "always", "must", "may", "should",
    }
)  # fmt: skip
_TOKEN = re.compile(r"\s+|[^\s]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(_MARKUP.sub(" ", text.casefold()))


def is_typo_fix(old: str, new: str) -> bool:
    """Whether changing `old` to `new` cannot change an answer: whitespace, case, punctuation,
    markdown emphasis or a few misspellings.

    The rule, on the texts' words (case-folded, markdown marks and punctuation dropped):
    1. the same words → typo fix (formatting, case, punctuation, line breaks);
    2. the same letters once spaces are dropped → typo fix ("eachother" → "each other");
    3. otherwise only word *substitutions* (no word added or removed), at most
       max(2, words / 10) of them, each between words that differ by an edit distance of at
       most 2 (a swap of neighbouring letters counts as 1) and at most a third of the longer
       word, neither holding a digit and neither a word that flips or hedges meaning (not,
       never, only, must, may, ...) → typo fix;
    anything else changes the meaning.
    """
    a, b = _words(old), _words(new)
    if a == b or "".join(a) == "".join(b):
        return True
    if len(a) != len(b):
        return False
    substitutions = 0
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        substitutions += 1
        if x in _NEGATIONS or y in _NEGATIONS or any(c.isdigit() for c in x + y):
            return False
        distance = OSA.distance(x, y)  # optimal string alignment: a swap of neighbours is one edit
        if distance > 2 or 3 * distance > max(len(x), len(y)):
            return False
    return substitutions <= max(2, len(a) // 10)


def text_bump(old: str, new: str) -> Bump:
    return "patch" if is_typo_fix(old, new) else "minor"


Segment: TypeAlias = tuple[Literal["equal", "insert", "delete"], str]


def word_diff(old: str, new: str) -> list[Segment]:
    """`old` → `new` as runs of equal, deleted and inserted text, word by word (whitespace kept)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    # Edits are local: match the common head and tail directly, so SequenceMatcher (quadratic on
    # repetitive text) only sees the changed middle.
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    matcher = difflib.SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False)
    segments: list[Segment] = []

    def add(kind: Literal["equal", "insert", "delete"], text: str) -> None:
        if not text:
            return
        if segments and segments[-1][0] == kind:
            segments[-1] = (kind, segments[-1][1] + text)
        else:
            segments.append((kind, text))

    # A lone space between two changed words joins them, so "The difference" → "What separates"
    # reads as one replacement rather than two.
    opcodes = [
        (op, i1 + head, i2 + head, j1 + head, j2 + head) for op, i1, i2, j1, j2 in matcher.get_opcodes()
    ]
    if head:
        opcodes.insert(0, ("equal", 0, head, 0, head))
    if tail:
        opcodes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    deleted: list[str] = []
    inserted: list[str] = []
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        text = "".join(a[i1:i2])
        between = 0 < index < len(opcodes) - 1
        if op == "equal" and not (between and (deleted or inserted) and text.isspace()):
            add("delete", "".join(deleted))
            add("insert", "".join(inserted))
            deleted, inserted = [], []
            add("equal", text)
        elif op == "equal":
            deleted.append(text)
            inserted.append(text)
        else:
            deleted.append(text)
            inserted.append("".join(b[j1:j2]))
    add("delete", "".join(deleted))
    add("insert", "".join(inserted))
    return segments
