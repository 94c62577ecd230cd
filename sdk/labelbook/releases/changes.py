"""Changes between two versions of a guide: what changed, where, and the bump it needs."""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar

from labelbook.releases.version import Bump, stronger
from labelbook.releases.wording import Segment, word_diff

__all__ = ["Action", "Change", "GuideDiff", "Kind", "by_key", "emphasis", "plain_text", "shorten"]

_Item = TypeVar("_Item", bound=Mapping[str, Any])

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
            strongest = stronger(strongest, change.bump)
        return strongest

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __repr__(self) -> str:
        head = f"<GuideDiff {self.old} → {self.new}: "
        if not self.changes:
            return head + "no changes>"
        lines = "".join(f"\n  {c.bump:5} {plain_text(c.summary)}" for c in self.changes[:10])
        more = f"\n  …and {len(self.changes) - 10} more" if len(self.changes) > 10 else ""
        count = len(self.changes)
        return f"{head}{count} change{'s' if count != 1 else ''}, needs a {self.bump} bump{lines}{more}>"

    def _repr_html_(self) -> str:
        """The changes in a notebook: bump, summary and the edited words highlighted."""
        if not self.changes:
            return f"<p>No changes between {html.escape(self.old)} and {html.escape(self.new)}.</p>"
        rows = "".join(
            f"<tr><td>{c.bump}</td><td>{html.escape(plain_text(c.summary))}</td><td>{_highlighted(c)}</td></tr>"
            for c in self.changes
        )
        title = f"{html.escape(self.old)} → {html.escape(self.new)}: needs a {self.bump} bump"
        return f"<p><b>{title}</b></p><table><tr><th>bump</th><th>change</th><th>edit</th></tr>{rows}</table>"

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


def plain_text(markdown: str) -> str:
    """A summary without its emphasis marks."""
    return markdown.replace("**", "").replace("*", "")


def _highlighted(change: Change) -> str:
    tags = {"insert": "ins", "delete": "del"}
    return "".join(
        f"<{tags[kind]}>{html.escape(text)}</{tags[kind]}>" if kind in tags else html.escape(text)
        for kind, text in change.segments
    )


def emphasis(text: str) -> str:
    return "*" + text.replace("*", "\\*") + "*" if text else "*(untitled)*"


def shorten(text: str, limit: int = 90) -> str:
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


def by_key(items: Sequence[_Item], key: str = "name") -> dict[str, _Item]:
    """Snapshot entries (fields, questions, sections, examples) by their name or id."""
    return {str(item[key]): item for item in items}
