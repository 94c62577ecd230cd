"""Releases: immutable, numbered, diffable versions of a guide, a changelog and a deployment log.

A release freezes what contractors read. It lives beside the notebook, as git-friendly text:

    guide.releases/                 (<notebook stem>.releases)
      1.0.0/
        task.json guide.md guide.html   the built documents, with the release banner
        guide.json                      the guide's structure (sections, rules, examples, task):
                                        what `diff` compares, so old releases never need the notebook
        changelog.md                    "what changed in this version", for contractors
        manifest.json                   sha256 of every file above, the notebook's sha256, author,
                                        UTC time, message, bump kind, and a hash of itself
      deployments.jsonl             append-only: when a release went live in which dataset

Writes are atomic: a release is written into `.tmp-*` inside the store, fsync'ed, then renamed
to its version (a directory renamed onto an existing, non-empty name fails, so the rename is the
arbiter if two writers ever get that far); an flock on the store folder itself (no lock file to
share by mistake) makes a second concurrent `release` fail at once with a clear error. A process
killed mid-release leaves only a `.tmp-*` folder, which readers ignore and the next release
removes. Files edited by hand are detected on read: every
file's hash is checked against the manifest, and the manifest against its own hash.

Version numbers follow the change (see `diff`): **major** when answers given under the old
version may be invalid now, **minor** when the meaning of the guidelines changed, **patch** when
no answer can change (typos, formatting). The precise typo rule is `is_typo_fix`.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import getpass
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import total_ordering
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from labelbook.errors import ReleaseError

if TYPE_CHECKING:
    from labelbook.guide import Guide

__all__ = [
    "BUMPS",
    "Bump",
    "Change",
    "Deployment",
    "GuideDiff",
    "Release",
    "Version",
    "changelog_lines",
    "deployments",
    "diff",
    "diff_versions",
    "grouped",
    "is_typo_fix",
    "latest_release",
    "list_releases",
    "live_release",
    "open_release",
    "record_deployment",
    "release",
    "render_changelog",
    "render_diff_html",
    "snapshot",
    "store_path",
    "word_diff",
]

Bump: TypeAlias = Literal["patch", "minor", "major"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")
"""Bump kinds, weakest first."""
SNAPSHOT_SCHEMA = 1
MANIFEST_SCHEMA = 1
WORKING = "working"
"""The name `diff` accepts for the notebook as it is now."""
DOCUMENTS = ("task.json", "guide.md", "guide.html", "guide.json", "changelog.md")
MANIFEST = "manifest.json"
DEPLOYMENTS = "deployments.jsonl"
_TMP_PREFIX = ".tmp-"
_PAUSE_ENV = "LABELBOOK_RELEASE_PAUSE_BEFORE_RENAME"  # test hook: seconds to sleep with the temp dir written
_CHANGELOG_LIMIT = 12


# ---------------------------------------------------------------------------------------------
# Versions


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version number, major.minor.patch."""

    major: int
    """Raised when old answers may be incompatible."""
    minor: int
    """Raised when the guidelines' meaning changes."""
    patch: int
    """Raised for typos and formatting."""

    _PATTERN = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")

    @classmethod
    def parse(cls, text: str) -> Version:
        """'1.2.0' (or 'v1.2.0') → Version; ReleaseError otherwise."""
        match = cls._PATTERN.match(text.strip())
        if not match:
            raise ReleaseError(
                f"{text!r} is not a version number; write it as MAJOR.MINOR.PATCH, e.g. 1.2.0."
            )
        return cls(*(int(part) for part in match.groups()))

    def bumped(self, kind: Bump) -> Version:
        """The next version for a change of this kind."""
        if kind == "major":
            return Version(self.major + 1, 0, 0)
        if kind == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


FIRST_VERSION = Version(1, 0, 0)


def _stronger(a: Bump | None, b: Bump | None) -> Bump | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if BUMPS.index(a) >= BUMPS.index(b) else b


# ---------------------------------------------------------------------------------------------
# Snapshot: the guide's structure as plain JSON data


def _prose(body: str) -> str:
    """A section's markdown without its rule paragraphs and list items (rules are compared by id)."""
    from labelbook.notebook import _RULE

    item = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+")
    out: list[str] = []
    in_rule = False
    for line in body.split("\n"):
        marker = item.match(line)
        rest = line[marker.end() :] if marker else line.lstrip()
        if _RULE.match(rest):
            in_rule = True
            continue
        if in_rule and line.strip() and not marker and not line.lstrip().startswith("#"):
            continue  # continuation of the rule's paragraph or list item
        in_rule = False
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def snapshot(guide: Guide) -> dict[str, Any]:
    """The guide's structure as JSON data: what a release stores in guide.json and `diff` compares."""
    sections = []
    for section in guide.sections:
        sections.append(
            {
                "id": section.id,
                "title": section.title,
                "level": section.level,
                "prose": _prose(section.body),
                "rules": [{"id": rule.id, "text": rule.text} for rule in section.rules],
                "examples": [example.id for example in section.examples],
                "outputs": [
                    {"kind": o.kind, "sha256": hashlib.sha256(o.data.encode()).hexdigest(), "alt": o.alt}
                    for o in section.outputs
                ],
            }
        )
    examples = [
        {
            "id": worked.id,
            "section": worked.section_id,
            "title": worked.title,
            "record": _jsonable(dict(worked.record)),
            "answers": _jsonable(dict(worked.answers)),
            "explanation": worked.explanation,
        }
        for worked in guide.examples
    ]
    return {
        "schema": SNAPSHOT_SCHEMA,
        "title": guide.title,
        "task": guide.task.to_dict(),
        "sections": sections,
        "examples": examples,
    }


# ---------------------------------------------------------------------------------------------
# Text changes: typo or meaning


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


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): a swap of two neighbours counts as one edit."""
    rows = [list(range(len(b) + 1))] + [[i] + [0] * len(b) for i in range(1, len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            best = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, rows[i - 2][j - 2] + 1)
            rows[i][j] = best
    return rows[-1][-1]


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
        distance = _edit_distance(x, y)
        if distance > 2 or 3 * distance > max(len(x), len(y)):
            return False
    return substitutions <= max(2, len(a) // 10)


def _text_bump(old: str, new: str) -> Bump:
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


# ---------------------------------------------------------------------------------------------
# Structural diff


Kind: TypeAlias = Literal[
    "title", "section", "rule", "field", "question", "label", "example", "task", "metadata"
]
Action: TypeAlias = Literal["added", "removed", "changed", "renamed", "moved"]


@dataclass(frozen=True)
class Change:
    """One change between two versions of a guide."""

    kind: Kind
    """What changed: a section, rule, label definition, question, field, example, ..."""
    id: str
    """Its id: section id, rule id, `question.label`, question or field name, example id."""
    action: Action
    """added, removed, changed, renamed or moved."""
    bump: Bump
    """The version bump this change needs on its own."""
    summary: str
    """One line in plain words (markdown), as the changelog shows it."""
    detail: str = ""
    """What exactly changed, for the diff (e.g. "type label → rating"); empty when the summary says it."""
    old: str | None = None
    """The old text, when a text changed (or was removed)."""
    new: str | None = None
    """The new text, when a text changed (or was added)."""
    section: str = ""
    """Id of the section the change sits in, when it has one."""

    @functools.cached_property
    def segments(self) -> list[Segment]:
        """Word-level highlights of the text change (empty when no text is involved)."""
        if self.old is None and self.new is None:
            return []
        return word_diff(self.old or "", self.new or "")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (for `labelbook diff --json`)."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "action": self.action,
            "bump": self.bump,
            "summary": self.summary,
        }
        for key in ("detail", "section"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.old is not None or self.new is not None:
            data["old"], data["new"] = self.old, self.new
        return data


@dataclass(frozen=True)
class GuideDiff:
    """What changed between two versions of a guide, and the version bump it calls for."""

    old: str
    """Label of the old side: a version number or "working"."""
    new: str
    """Label of the new side."""
    changes: tuple[Change, ...]
    """Every change, in guide order: title, task (fields, questions, labels), sections, rules, examples."""
    title: str = ""
    """The guide's title on the new side."""

    @property
    def bump(self) -> Bump | None:
        """The strongest bump any change needs; None when nothing changed."""
        strongest: Bump | None = None
        for change in self.changes:
            strongest = _stronger(strongest, change.bump)
        return strongest

    def __bool__(self) -> bool:
        return bool(self.changes)

    def reasons(self, bump: Bump) -> list[Change]:
        """The changes that need `bump`."""
        return [change for change in self.changes if change.bump == bump]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "old": self.old,
            "new": self.new,
            "bump": self.bump,
            "changes": [change.to_dict() for change in self.changes],
        }


def _em(text: str) -> str:
    return "*" + text.replace("*", "\\*") + "*" if text else "*(untitled)*"


def _short(text: str, limit: int = 90) -> str:
    """The text on one line, cut after a whole word with an ellipsis when longer than `limit`.

    Never inside a word, a code span or a bold run (their markers stay paired); a text with no
    space to cut at is kept whole.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if flat[limit - 1] != " ":  # the cut falls inside a word: go back to the space before it
        cut = cut.rsplit(" ", 1)[0] if " " in cut else flat
    for marker in ("`", "**"):
        if cut.count(marker) % 2:
            cut = cut[: cut.rindex(marker)]
    cut = cut.rstrip(" ,;:-–—(")
    return f"{cut}…" if cut and cut != flat else flat


def _by_name(items: Sequence[Mapping[str, Any]], key: str = "name") -> dict[str, Mapping[str, Any]]:
    return {str(item[key]): item for item in items}


_TEXT_KEYS = ("title", "description")
_ANSWER_KEYS = frozenset({"values", "field", "allow_overlapping"})  # changing these invalidates answers


def _diff_item(
    kind: Literal["field", "question", "metadata"], old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[Change]:
    name = str(new["name"])
    noun = {"field": "Field", "question": "Question", "metadata": "Metadata property"}[kind]
    if old.get("type") != new.get("type"):
        yield Change(
            kind,
            name,
            "changed",
            "major" if kind != "metadata" else "minor",
            f"{noun} **{name}** is now of type {new.get('type')} (was {old.get('type')}).",
            detail=f"type {old.get('type')} → {new.get('type')}",
        )
        return
    for key in sorted(set(old) | set(new)):
        if key in ("name", "type") or old.get(key) == new.get(key):
            continue
        before, after = old.get(key), new.get(key)
        if key == "definitions":  # what the values of a rating scale mean
            yield from _diff_meanings(name, before or [], after or [])
        elif (
            isinstance(before, list)
            and before
            and isinstance(before[0], Mapping)
            and "definition" in before[0]
        ):
            yield from _diff_labels(name, key, before, after or [])
        elif key in _TEXT_KEYS:
            bump = _text_bump(str(before or ""), str(after or ""))
            words = "typo fixed in" if bump == "patch" else "changed:"
            yield Change(
                kind,
                name,
                "changed",
                bump,
                f"{noun} **{name}** {key} {words} {_short(str(after))}",
                detail=key,
                old=str(before or ""),
                new=str(after or ""),
            )
        elif kind == "metadata":
            yield Change(
                kind,
                name,
                "changed",
                "minor",
                f"{noun} **{name}**: {key} changed.",
                detail=f"{key} {before!r} → {after!r}",
            )
        elif key in _ANSWER_KEYS:
            yield Change(
                kind,
                name,
                "changed",
                "major",
                f"{noun} **{name}**: {key} changed from {before} to {after}.",
                detail=f"{key} {before!r} → {after!r}",
            )
        elif key == "required":
            state = "required" if after else "optional"
            yield Change(
                kind,
                name,
                "changed",
                "minor",
                f"{noun} **{name}** is now {state}.",
                detail=f"required {before!r} → {after!r}",
            )
        else:
            yield Change(
                kind,
                name,
                "changed",
                "patch",
                f"{noun} **{name}**: display of {key} changed.",
                detail=f"{key} {before!r} → {after!r}",
            )


def _diff_meanings(
    question: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> Iterator[Change]:
    before = {int(e["value"]): str(e.get("definition", "")) for e in old}
    after = {int(e["value"]): str(e.get("definition", "")) for e in new}
    for value in sorted(set(before) | set(after)):
        was, now = before.get(value, ""), after.get(value, "")
        if was == now:
            continue
        bump: Bump = _text_bump(was, now) if was and now else "minor"
        if not now:
            words = "is no longer defined"
        else:
            words = "typo fixed in its meaning:" if bump == "patch" else "now means:"
        yield Change(
            "label",
            f"{question}.{value}",
            "changed" if was and now else "removed" if was else "added",
            bump,
            f"Value **{value}** of *{question}* {words} {_short(now)}".rstrip(),
            old=was,
            new=now,
        )


def _diff_labels(
    question: str, key: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> Iterator[Change]:
    before = {str(e["name"]): str(e.get("definition", "")) for e in old}
    after = {str(e["name"]): str(e.get("definition", "")) for e in new}
    removed = [name for name in before if name not in after]
    added = [name for name in after if name not in before]
    renamed: dict[str, str] = {}
    for gone in removed:
        same = [name for name in added if after[name] == before[gone] and name not in renamed.values()]
        if len(same) == 1:
            renamed[gone] = same[0]
    for gone in removed:
        label_id = f"{question}.{gone}"
        if gone in renamed:
            yield Change(
                "label",
                label_id,
                "renamed",
                "major",
                f"Label **{gone}** of *{question}* renamed to **{renamed[gone]}**.",
                detail=f"{gone} → {renamed[gone]}",
            )
        else:
            yield Change(
                "label",
                label_id,
                "removed",
                "major",
                f"Label **{gone}** of *{question}* removed: do not use it any more.",
                old=before[gone],
            )
    for name in added:
        if name in renamed.values():
            continue
        yield Change(
            "label",
            f"{question}.{name}",
            "added",
            "minor",
            f"New label **{name}** for *{question}*: {_short(after[name])}",
            new=after[name],
        )
    for name in after:
        if name in before and before[name] != after[name]:
            bump = _text_bump(before[name], after[name])
            words = "typo fixed in definition" if bump == "patch" else "definition changed"
            yield Change(
                "label",
                f"{question}.{name}",
                "changed",
                bump,
                f"Label **{name}** {words}: {_short(after[name])}",
                old=before[name],
                new=after[name],
            )
    common_old = [name for name in before if name in after]
    common_new = [name for name in after if name in before]
    if common_old != common_new:
        yield Change(
            "label",
            f"{question}.*",
            "moved",
            "patch",
            f"Labels of *{question}* reordered.",
            detail=f"{key}: {', '.join(common_old)} → {', '.join(common_new)}",
        )


def _diff_task(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    if old.get("name") != new.get("name"):
        yield Change(
            "task",
            "name",
            "changed",
            "minor",
            f"Task renamed to **{new.get('name')}**.",
            detail=f"{old.get('name')} → {new.get('name')}",
        )
    if old.get("overlap") != new.get("overlap"):
        yield Change(
            "task",
            "overlap",
            "changed",
            "patch",
            f"Each record is now labeled by {new.get('overlap')} people.",
            detail=f"overlap {old.get('overlap')} → {new.get('overlap')}",
        )
    groups: tuple[tuple[Literal["field", "question", "metadata"], str], ...] = (
        ("field", "fields"),
        ("question", "questions"),
        ("metadata", "metadata"),
    )
    for kind, key in groups:
        before, after = _by_name(old.get(key, [])), _by_name(new.get(key, []))
        noun = {"field": "field", "question": "question", "metadata": "metadata property"}[kind]
        for name in before:
            if name not in after:
                bump: Bump = "minor" if kind == "metadata" else "major"
                yield Change(
                    kind,
                    name,
                    "removed",
                    bump,
                    f"The {noun} **{name}** was removed.",
                    old=str(before[name].get("description", "")),
                )
        for name, item in after.items():
            if name not in before:
                described = f": {_short(str(item['description']))}" if item.get("description") else "."
                yield Change(
                    kind,
                    name,
                    "added",
                    "minor",
                    f"New {noun} **{name}**{described}",
                    new=str(item.get("description", "")),
                )
            else:
                yield from _diff_item(kind, before[name], item)
        if [n for n in before if n in after] != [n for n in after if n in before]:
            yield Change(kind, f"{key}.*", "moved", "patch", f"The {key} are shown in a new order.")


def _pair_renamed_sections(
    removed: list[Mapping[str, Any]], added: list[Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """Removed section id → the added section that is the same section under a new title/id."""
    pairs: dict[str, Mapping[str, Any]] = {}
    taken: set[str] = set()
    for gone in removed:
        best, best_ratio = None, 0.6
        for candidate in added:
            if candidate["id"] in taken:
                continue
            ratio = difflib.SequenceMatcher(None, gone["prose"], candidate["prose"], autojunk=False).ratio()
            rules_same = [r["id"] for r in gone["rules"]] == [r["id"] for r in candidate["rules"]] and gone[
                "rules"
            ]
            if rules_same and ratio < best_ratio:
                ratio = best_ratio + 0.01
            if ratio > best_ratio:
                best, best_ratio = candidate, ratio
        if best is not None:
            pairs[str(gone["id"])] = best
            taken.add(str(best["id"]))
    return pairs


def _diff_sections(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> Iterator[Change]:
    before, after = _by_name(old, "id"), _by_name(new, "id")
    removed = [s for s in old if s["id"] not in after]
    added = [s for s in new if s["id"] not in before]
    renamed = _pair_renamed_sections(removed, added)
    renamed_to = {str(s["id"]): gone for gone, s in renamed.items()}
    for section in old:
        if section["id"] not in after and section["id"] not in renamed:
            yield Change(
                "section",
                str(section["id"]),
                "removed",
                "minor",
                f"Section {_em(section['title'])} removed.",
                old=str(section["prose"]),
                section=str(section["id"]),
            )
    for section in new:
        sid = str(section["id"])
        if sid not in before and sid not in renamed_to:
            yield Change(
                "section",
                sid,
                "added",
                "minor",
                f"New section {_em(section['title'])}.",
                new=str(section["prose"]),
                section=sid,
            )
            continue
        previous = before[sid] if sid in before else before[renamed_to[sid]]
        if previous["title"] != section["title"] or previous["id"] != sid:
            bump = _text_bump(str(previous["title"]), str(section["title"]))
            yield Change(
                "section",
                sid,
                "renamed",
                bump,
                f"Section {_em(previous['title'])} is now called {_em(section['title'])}.",
                detail=f"id {previous['id']} → {sid}" if previous["id"] != sid else "title",
                old=str(previous["title"]),
                new=str(section["title"]),
                section=sid,
            )
        if previous["prose"] != section["prose"]:
            bump = _text_bump(str(previous["prose"]), str(section["prose"]))
            words = "typos fixed" if bump == "patch" else "reworded"
            yield Change(
                "section",
                sid,
                "changed",
                bump,
                f"Section {_em(section['title'])} {words}.",
                old=str(previous["prose"]),
                new=str(section["prose"]),
                section=sid,
            )
        if previous["level"] != section["level"]:
            yield Change(
                "section",
                sid,
                "moved",
                "patch",
                f"Section {_em(section['title'])} moved to heading level {section['level']}.",
                section=sid,
            )
        if previous["outputs"] != section["outputs"]:
            same_data = [(o["kind"], o["sha256"]) for o in previous["outputs"]] == [
                (o["kind"], o["sha256"]) for o in section["outputs"]
            ]
            yield Change(
                "section",
                sid,
                "changed",
                "patch" if same_data else "minor",
                f"Section {_em(section['title'])}: "
                + ("image descriptions updated." if same_data else "tables or figures changed."),
                detail="outputs",
                section=sid,
            )
    kept_old = [renamed[str(s["id"])]["id"] if s["id"] in renamed else s["id"] for s in old]
    kept_old = [sid for sid in kept_old if sid in after]
    kept_new = [s["id"] for s in new if s["id"] in before or s["id"] in renamed_to]
    if kept_old != kept_new:
        yield Change(
            "section", "*", "moved", "patch", "Sections reordered.", detail=" → ".join(map(str, kept_new))
        )


def _diff_rules(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> Iterator[Change]:
    def rules(sections: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
        return {str(r["id"]): (str(r["text"]), str(s["id"])) for s in sections for r in s["rules"]}

    before, after = rules(old), rules(new)
    titles = {str(s["id"]): str(s["title"]) for s in new}
    for rid, (text, sid) in before.items():
        if rid not in after:
            yield Change("rule", rid, "removed", "minor", f"Rule {rid} removed.", old=text, section=sid)
    for rid, (text, sid) in after.items():
        if rid not in before:
            yield Change(
                "rule", rid, "added", "minor", f"New rule {rid}: {_short(text)}", new=text, section=sid
            )
            continue
        old_text, old_sid = before[rid]
        if old_text != text:
            bump = _text_bump(old_text, text)
            words = "typo fixed" if bump == "patch" else "changed"
            yield Change(
                "rule",
                rid,
                "changed",
                bump,
                f"Rule {rid} {words}: {_short(text)}",
                old=old_text,
                new=text,
                section=sid,
            )
        if old_sid != sid:
            yield Change(
                "rule",
                rid,
                "moved",
                "patch",
                f"Rule {rid} moved to section {_em(titles.get(sid, sid))}.",
                detail=f"{old_sid} → {sid}",
                section=sid,
            )


def _example_name(example: Mapping[str, Any]) -> str:
    return f"{_em(example['title'])} ({example['id']})" if example.get("title") else str(example["id"])


def _diff_examples(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> Iterator[Change]:
    before, after = _by_name(old, "id"), _by_name(new, "id")
    for eid, example in before.items():
        if eid not in after:
            yield Change(
                "example",
                eid,
                "removed",
                "minor",
                f"Worked example {_example_name(example)} removed.",
                old=str(example["explanation"]),
                section=str(example["section"]),
            )
    for eid, example in after.items():
        sid = str(example["section"])
        if eid not in before:
            yield Change(
                "example",
                eid,
                "added",
                "minor",
                f"New worked example {_example_name(example)}.",
                new=str(example["explanation"]),
                section=sid,
            )
            continue
        previous = before[eid]
        if previous["answers"] != example["answers"]:
            answers = ", ".join(
                f"{q} = {json.dumps(v, ensure_ascii=False)}"
                for q, v in example["answers"].items()
                if previous["answers"].get(q) != v
            )
            yield Change(
                "example",
                eid,
                "changed",
                "minor",
                f"Worked example {_example_name(example)}: correct answer changed ({answers or 'removed'}).",
                detail="answers",
                section=sid,
            )
        if previous["record"] != example["record"]:
            yield Change(
                "example",
                eid,
                "changed",
                "minor",
                f"Worked example {_example_name(example)}: the record changed.",
                detail="record",
                section=sid,
            )
        if previous["explanation"] != example["explanation"]:
            bump = _text_bump(str(previous["explanation"]), str(example["explanation"]))
            words = "typo fixed in the explanation" if bump == "patch" else "explanation changed"
            yield Change(
                "example",
                eid,
                "changed",
                bump,
                f"Worked example {_example_name(example)}: {words}.",
                old=str(previous["explanation"]),
                new=str(example["explanation"]),
                section=sid,
            )
        if previous["title"] != example["title"]:
            yield Change(
                "example",
                eid,
                "renamed",
                _text_bump(str(previous["title"]), str(example["title"])),
                f"Worked example now titled {_em(example['title'])}.",
                old=str(previous["title"]),
                new=str(example["title"]),
                section=sid,
            )
        if previous["section"] != sid:
            yield Change(
                "example",
                eid,
                "moved",
                "minor",
                f"Worked example {_example_name(example)} moved.",
                detail=f"{previous['section']} → {sid}",
                section=sid,
            )


def diff(
    old: Mapping[str, Any], new: Mapping[str, Any], *, old_label: str = "old", new_label: str = "new"
) -> GuideDiff:
    """Compare two snapshots (see `snapshot`) by title, task, section, rule and worked example."""
    changes: list[Change] = []
    if old["title"] != new["title"]:
        changes.append(
            Change(
                "title",
                "title",
                "changed",
                _text_bump(str(old["title"]), str(new["title"])),
                f"The guide is now called {_em(new['title'])}.",
                old=str(old["title"]),
                new=str(new["title"]),
            )
        )
    changes += _diff_task(old["task"], new["task"])
    changes += _diff_sections(old["sections"], new["sections"])
    changes += _diff_rules(old["sections"], new["sections"])
    changes += _diff_examples(old["examples"], new["examples"])
    return GuideDiff(old_label, new_label, tuple(changes), str(new["title"]))


# ---------------------------------------------------------------------------------------------
# The store


def store_path(notebook: str | os.PathLike[str]) -> Path:
    """The release store of a notebook: `<stem>.releases/` beside it (shared by its jupytext twin)."""
    path = Path(notebook)
    if path.is_dir() and path.suffix == ".releases":
        return path
    return path.with_name(f"{path.stem}.releases")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_hash(manifest: Mapping[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    return _sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())


@dataclass(frozen=True)
class Release:
    """One immutable release in a store, its files checked against its manifest when opened."""

    version: Version
    """Its number."""
    path: Path
    """Its folder, `<store>/<version>/`."""
    manifest: Mapping[str, Any] = field(repr=False)
    """manifest.json as data."""

    @property
    def message(self) -> str:
        """What the researcher said about it (`-m`)."""
        return str(self.manifest["message"])

    @property
    def author(self) -> str:
        """git's user.name, else the login name."""
        return str(self.manifest["author"])

    @property
    def created_at(self) -> datetime:
        """When it was made (UTC)."""
        return datetime.fromisoformat(str(self.manifest["created_at"]).replace("Z", "+00:00"))

    @property
    def bump(self) -> str:
        """ "first", "major", "minor" or "patch"."""
        return str(self.manifest["bump"])

    @property
    def previous(self) -> str | None:
        """The version it was compared against (None for the first release)."""
        value = self.manifest.get("previous")
        return str(value) if value else None

    @property
    def source_hash(self) -> str:
        """sha256 of the notebook file it was built from."""
        return str(self.manifest["source"]["sha256"])

    @property
    def hash(self) -> str:
        """sha256 over the release's file hashes: what identifies its content."""
        return str(self.manifest["content_sha256"])

    @property
    def changes(self) -> list[str]:
        """The changelog's lines (markdown), as the release banner shows them."""
        return [str(line) for line in self.manifest.get("changes", [])]

    def text(self, name: str) -> str:
        """One of the release's files (task.json, guide.md, guide.html, guide.json, changelog.md)."""
        if name not in self.manifest["files"]:
            raise ReleaseError(f"{self.path}: release {self.version} has no file {name!r}.")
        return (self.path / name).read_text(encoding="utf-8")

    def snapshot(self) -> dict[str, Any]:
        """The guide's structure as it was released (guide.json)."""
        data: dict[str, Any] = json.loads(self.text("guide.json"))
        return data

    def _repr_html_(self) -> str:
        """A summary in a notebook: version, date, author, message and what changed."""
        import html

        changes = "".join(f"<li>{html.escape(_plain(line))}</li>" for line in self.changes)
        return (
            f"<div><b>Release {self.version}</b> <small>{self.manifest['created_at']} · "
            f"{html.escape(self.author)} · {html.escape(self.bump)}</small>"
            f"<br>{html.escape(self.message)}<ul>{changes}</ul></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """Summary as JSON data."""
        return {
            "version": str(self.version),
            "date": self.manifest["created_at"],
            "message": self.message,
            "author": self.author,
            "bump": self.bump,
            "previous": self.previous,
            "hash": self.hash,
            "source_sha256": self.source_hash,
            "path": str(self.path),
        }


def _read_release(folder: Path) -> Release:
    version = Version.parse(folder.name)
    manifest_path = folder / MANIFEST
    fix = (
        "Releases are never edited: restore the folder from version control (`git checkout -- "
        f"{folder}`), or make the change in the notebook and run `labelbook release` again."
    )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{manifest_path}: missing; release {version} is damaged. {fix}") from None
    except (OSError, ValueError) as err:
        raise ReleaseError(
            f"{manifest_path}: unreadable ({err}); release {version} is damaged. {fix}"
        ) from err
    if not isinstance(manifest, dict) or manifest.get("manifest_sha256") != _manifest_hash(manifest):
        raise ReleaseError(f"{manifest_path}: edited by hand (its hash does not match its content). {fix}")
    if manifest.get("version") != str(version):
        raise ReleaseError(
            f"{manifest_path}: says version {manifest.get('version')}, but the folder is {version}. {fix}"
        )
    for name, expected in manifest["files"].items():
        try:
            actual = _sha256((folder / name).read_bytes())
        except FileNotFoundError:
            raise ReleaseError(f"{folder / name}: missing from release {version}. {fix}") from None
        if actual != expected:
            raise ReleaseError(f"{folder / name}: edited by hand (sha256 differs from manifest.json). {fix}")
    return Release(version, folder, manifest)


def _release_folders(store: Path) -> list[tuple[Version, Path]]:
    if not store.is_dir():
        return []
    found = []
    for entry in store.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue  # .tmp-* (unfinished or killed releases) and the lock file
        try:
            found.append((Version.parse(entry.name), entry))
        except ReleaseError:
            continue
    return sorted(found)


def list_releases(notebook: str | os.PathLike[str]) -> list[Release]:
    """Every release of a notebook, oldest first, each checked against its manifest."""
    return [_read_release(folder) for _, folder in _release_folders(store_path(notebook))]


def latest_release(notebook: str | os.PathLike[str]) -> Release | None:
    """The newest release (checked), or None before the first."""
    folders = _release_folders(store_path(notebook))
    return _read_release(folders[-1][1]) if folders else None


def open_release(notebook: str | os.PathLike[str], version: str | Version) -> Release:
    """One release by number (checked); ReleaseError lists the known versions otherwise."""
    wanted = version if isinstance(version, Version) else Version.parse(str(version))
    folders = dict(_release_folders(store_path(notebook)))
    if wanted not in folders:
        known = ", ".join(str(v) for v in sorted(folders)) or "none yet"
        raise ReleaseError(
            f"{store_path(notebook)}: no release {wanted} (releases: {known}). "
            "`labelbook versions NOTEBOOK` lists them."
        )
    return _read_release(folders[wanted])


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    import fcntl

    store.mkdir(parents=True, exist_ok=True)
    # The folder is the lock: a lock file would sit, empty, in a folder people commit and share.
    fd = os.open(store, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError(
                f"{store}: another release of this notebook is being written right now; "
                "wait for it to finish, then run `labelbook release` again (it will compare against it)."
            ) from None
        stale = store / ".lock"  # left by labelbook versions that locked a file
        with contextlib.suppress(OSError):
            if stale.is_file() and stale.stat().st_size == 0:
                stale.unlink()
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _author() -> str:
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER", "unknown")


def _utc(at: datetime | None = None) -> datetime:
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        raise ReleaseError(f"time {at.isoformat()} has no time zone; pass an aware datetime (e.g. UTC).")
    return at.astimezone(timezone.utc)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, text: str) -> bytes:
    data = text.encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return data


def _clean_temp(store: Path) -> None:
    """Remove folders left by killed releases (only called while holding the lock)."""
    for entry in store.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(entry, ignore_errors=True)


def changelog_lines(changes: GuideDiff | None, limit: int = _CHANGELOG_LIMIT) -> list[str]:
    """The "what changed" lines for contractors: meaning first, typo fixes folded into one line."""
    if changes is None:
        return ["First release."]
    order = {"major": 0, "minor": 1, "patch": 2}
    visible = [c for c in changes.changes if c.bump != "patch"]
    visible.sort(key=lambda c: order[c.bump])  # stable: guide order within a bump kind
    lines = [c.summary for c in visible]
    patches = [c for c in changes.changes if c.bump == "patch"]
    if len(lines) > limit:
        rest = len(lines) - limit + 1
        lines = [*lines[: limit - 1], f"…and {rest} more changes; the guide below is up to date."]
    if patches:
        lines.append(
            "Typos and formatting fixed." if lines else "Typos and formatting fixed; nothing else changed."
        )
    return lines


def render_changelog(
    version: str, date: str, changes: Sequence[str], *, message: str = "", notebook_dir: Path | None = None
) -> str:
    """changelog.md through the `changelog` template."""
    from labelbook.render import render_template

    context = {"version": version, "date": date, "changes": list(changes), "message": message}
    return render_template("changelog", "changelog.md.j2", context, notebook_dir=notebook_dir)


def release(
    notebook: str | os.PathLike[str],
    message: str,
    bump: Bump | None = None,
    *,
    templates: Sequence[str | os.PathLike[str]] = (),
    now: datetime | None = None,
) -> Release | None:
    """Release the notebook as it is now; None when nothing changed since the latest release.

    The version is the latest one raised by what the diff needs (`GuideDiff.bump`); `bump` may
    only raise it. Lint errors block the release (ReleaseError with `.findings`).
    """
    from labelbook.lint import lint
    from labelbook.notebook import load
    from labelbook.render import render_all

    path = Path(notebook)
    if not message.strip():
        raise ReleaseError(f"{path}: a release needs a message saying what changed (-m MESSAGE).")
    if bump is not None and bump not in BUMPS:
        raise ReleaseError(f"bump must be one of {', '.join(BUMPS)}, got {bump!r}.")
    guide = load(path)
    findings = lint(guide)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ReleaseError(
            f"{path}: not released: {len(errors)} lint error{'s' if len(errors) != 1 else ''}; "
            "fix them (`labelbook lint` shows every finding) and release again.",
            findings=errors,
        )
    current = snapshot(guide)
    store = store_path(path)
    with _locked(store):
        _clean_temp(store)
        latest = latest_release(path)
        changes: GuideDiff | None = None
        if latest is None:
            version, kind = FIRST_VERSION, "first"
        else:
            changes = diff(latest.snapshot(), current, old_label=str(latest.version), new_label=WORKING)
            needed = changes.bump
            if needed is None:
                return None
            if bump is not None and BUMPS.index(bump) < BUMPS.index(needed):
                reasons = "; ".join(_plain(c.summary) for c in changes.reasons(needed)[:3])
                raise ReleaseError(
                    f"{path}: --bump {bump} is lower than these changes need ({needed}): {reasons}. "
                    f"Drop --bump, or pass --bump {needed}" + (" or higher." if needed != "major" else ".")
                )
            kind = bump or needed
            version = latest.version.bumped(kind)
        created = _utc(now)
        date = created.date().isoformat()
        lines = changelog_lines(changes)
        documents = render_all(
            guide, templates, release={"version": str(version), "date": date, "changes": lines}
        )
        documents["guide.json"] = json.dumps(current, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        documents["changelog.md"] = render_changelog(
            str(version), date, lines, message=message, notebook_dir=path.resolve().parent
        )
        return _write_release(
            store,
            version,
            documents,
            {
                "previous": str(latest.version) if latest else None,
                "bump": kind,
                "computed_bump": changes.bump if changes else "first",
                "message": message.strip(),
                "author": _author(),
                "created_at": _iso(created),
                "source": {"path": path.name, "sha256": guide.source_hash},
                "changes": lines,
            },
        )


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("*", "")


def _write_release(
    store: Path, version: Version, documents: Mapping[str, str], info: Mapping[str, Any]
) -> Release:
    temp = store / f"{_TMP_PREFIX}{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    try:
        hashes = {name: _sha256(_write_file(temp / name, documents[name])) for name in DOCUMENTS}
        manifest: dict[str, Any] = {
            "schema": MANIFEST_SCHEMA,
            "version": str(version),
            **info,
            "files": hashes,
            "content_sha256": _sha256("\n".join(f"{n} {h}" for n, h in sorted(hashes.items())).encode()),
        }
        manifest["manifest_sha256"] = _manifest_hash(manifest)
        _write_file(temp / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        _fsync_dir(temp)
        pause = os.environ.get(_PAUSE_ENV)
        if pause:
            time.sleep(float(pause))
        final = store / str(version)
        try:
            os.rename(temp, final)
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise ReleaseError(
                    f"{final}: release {version} was just written by another process; "
                    "run `labelbook release` again to release on top of it."
                ) from None
            raise
        _fsync_dir(store)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return _read_release(final)


# ---------------------------------------------------------------------------------------------
# Diff between versions


def _side(notebook: Path, which: str) -> tuple[str, dict[str, Any]]:
    if which == WORKING:
        from labelbook.notebook import load

        return WORKING, snapshot(load(notebook))
    found = open_release(notebook, which)
    return str(found.version), found.snapshot()


def diff_versions(notebook: str | os.PathLike[str], old: str, new: str = WORKING) -> GuideDiff:
    """Diff two releases of a notebook, or a release and the notebook as it is now ("working")."""
    path = Path(notebook)
    old_label, before = _side(path, old)
    new_label, after = _side(path, new)
    return diff(before, after, old_label=old_label, new_label=new_label)


_KIND_TITLES = {
    "title": "Title",
    "task": "Task",
    "field": "Fields",
    "question": "Questions",
    "label": "Label definitions",
    "metadata": "Metadata",
    "section": "Sections",
    "rule": "Rules",
    "example": "Worked examples",
}


def grouped(changes: GuideDiff) -> list[tuple[str, list[Change]]]:
    """Changes grouped by what changed, in a fixed order: (heading, changes)."""
    groups: list[tuple[str, list[Change]]] = []
    for kind, heading in _KIND_TITLES.items():
        members = [c for c in changes.changes if c.kind == kind]
        if members:
            groups.append((heading, members))
    return groups


def render_diff_html(changes: GuideDiff, *, title: str = "", notebook_dir: Path | None = None) -> str:
    """A self-contained HTML page of the diff (template `diff`), changes highlighted in context."""
    from labelbook.render import render_template

    context = {
        "diff": changes,
        "groups": grouped(changes),
        "title": title or changes.title,
        "bump": changes.bump,
    }
    return render_template("diff", "diff.html.j2", context, notebook_dir=notebook_dir)


# ---------------------------------------------------------------------------------------------
# Deployment log


@dataclass(frozen=True)
class Deployment:
    """One line of deployments.jsonl: a release went live in a dataset."""

    version: str
    """The release."""
    server_url: str
    """The Argilla server."""
    dataset_id: str
    """The dataset's id on that server."""
    at: datetime
    """When it went live (UTC)."""

    def to_dict(self) -> dict[str, str]:
        """The JSON line."""
        return {
            "at": _iso(self.at),
            "version": self.version,
            "server_url": self.server_url,
            "dataset_id": self.dataset_id,
        }


def record_deployment(
    store_or_notebook: str | os.PathLike[str],
    version: str | Version,
    server_url: str,
    dataset_id: str,
    at: datetime | None = None,
) -> Deployment:
    """Append "release `version` went live in `dataset_id` on `server_url` at `at`" to the log (fsync'ed)."""
    store = store_path(store_or_notebook)
    wanted = version if isinstance(version, Version) else Version.parse(str(version))
    if not (store / str(wanted)).is_dir():
        raise ReleaseError(f"{store}: no release {wanted} to deploy; release it first (`labelbook release`).")
    entry = Deployment(str(wanted), server_url, str(dataset_id), _utc(at))
    line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
    # One write() of a line under O_APPEND: concurrent appenders never interleave within a line.
    fd = os.open(store / DEPLOYMENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def deployments(store_or_notebook: str | os.PathLike[str]) -> list[Deployment]:
    """Every deployment, oldest first (a torn last line from a crash is skipped)."""
    log = store_path(store_or_notebook) / DEPLOYMENTS
    if not log.is_file():
        return []
    found: list[Deployment] = []
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(
                Deployment(
                    str(data["version"]),
                    str(data["server_url"]),
                    str(data["dataset_id"]),
                    datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00")),
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            if line.endswith("}"):
                raise ReleaseError(
                    f"{log}, line {number}: not a deployment record ({err}); restore the file "
                    "from version control (it is append-only)."
                ) from err
    found.sort(key=lambda d: d.at)
    return found


def live_release(notebook: str | os.PathLike[str], dataset_id: str, at: datetime) -> str | None:
    """Which release was live in dataset `dataset_id` at time `at` (None: nothing deployed there yet)."""
    moment = _utc(at)
    live: str | None = None
    for entry in deployments(notebook):
        if entry.dataset_id == str(dataset_id) and entry.at <= moment:
            live = entry.version
    return live
