"""What changed, written for people: the changelog lines of a release and the diff page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labelbook.releases.changes import Change, GuideDiff
from labelbook.render import render_template

__all__ = ["changelog_lines", "grouped", "render_changelog", "render_diff_html"]

_CHANGELOG_LIMIT = 12


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
    context = {"version": version, "date": date, "changes": list(changes), "message": message}
    return render_template("changelog", "changelog.md.j2", context, notebook_dir=notebook_dir)


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
    context = {
        "diff": changes,
        "groups": grouped(changes),
        "title": title or changes.title,
        "bump": changes.bump,
    }
    return render_template("diff", "diff.html.j2", context, notebook_dir=notebook_dir)
