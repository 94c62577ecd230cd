"""Make a release of a guide, and compare any two versions of it (or a version and the notebook)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from labelbook.build import Source, build, guide_of
from labelbook.encoding import format_utc
from labelbook.errors import ReleaseError
from labelbook.guide import Guide
from labelbook.lint import lint
from labelbook.releases.changelog import changelog_lines, render_changelog
from labelbook.releases.changes import GuideDiff, plain_text
from labelbook.releases.diff import diff
from labelbook.releases.snapshot import Snapshot, snapshot
from labelbook.releases.store import (
    Release,
    as_utc,
    author,
    clean_temp,
    latest_release,
    locked,
    open_release,
    store_path,
    write_release,
)
from labelbook.releases.version import BUMPS, FIRST_VERSION, Bump, Version

__all__ = ["WORKING", "diff_versions", "release"]

WORKING = "working"
"""The name `diff_versions` accepts for the notebook as it is now."""


def release(
    guide_or_notebook: Source,
    message: str,
    bump: Bump | None = None,
    *,
    templates: Sequence[str | os.PathLike[str]] = (),
    now: datetime | None = None,
) -> Release:
    """Release the guide (a Guide, or its notebook's path) as it is now; the Release.

    `release.created` is False when nothing changed since the latest release: that one is
    returned and nothing is written. The version is the latest one raised by what the diff needs
    (`GuideDiff.bump`); `bump` may only raise it. Lint errors block the release (ReleaseError
    with `.findings`).
    """
    where = guide_or_notebook.source_path if isinstance(guide_or_notebook, Guide) else guide_or_notebook
    if not message.strip():
        raise ReleaseError(f"{where}: a release needs a message saying what changed (-m MESSAGE).")
    if bump is not None and bump not in BUMPS:
        raise ReleaseError(f"bump must be one of {', '.join(BUMPS)}, got {bump!r}.")
    guide = guide_of(guide_or_notebook)
    path = guide.source_path
    _refuse_lint_errors(guide)
    current = snapshot(guide)
    store = store_path(path)
    with locked(store):
        clean_temp(store)
        latest = latest_release(path)
        changes = None
        if latest is None:
            version, kind = FIRST_VERSION, "first"
        else:
            changes = diff(latest.snapshot(), current, old_label=str(latest.version), new_label=WORKING)
            if changes.bump is None:
                return latest
            kind = _check_bump(path, changes, bump)
            version = latest.version.bumped(kind)
        created = as_utc(now)
        lines = changelog_lines(changes)
        documents = _documents(guide, templates, version, created, lines, message, current)
        info = {
            "previous": str(latest.version) if latest else None,
            "bump": kind,
            "computed_bump": changes.bump if changes else "first",
            "message": message.strip(),
            "author": author(),
            "created_at": format_utc(created),
            "source": {"path": path.name, "sha256": guide.source_hash},
            "changes": lines,
        }
        return write_release(store, version, documents, info)


def _refuse_lint_errors(guide: Guide) -> None:
    errors = [f for f in lint(guide) if f.severity == "error"]
    if errors:
        raise ReleaseError(
            f"{guide.source_path}: not released: {len(errors)} lint error{'s' if len(errors) != 1 else ''}; "
            "fix them (`labelbook lint` shows every finding) and release again.",
            findings=errors,
        )


def _check_bump(path: Path, changes: GuideDiff, bump: Bump | None) -> Bump:
    """The bump to make: `bump` when given and high enough, else what the changes need."""
    needed = changes.bump
    assert needed is not None  # the caller returns early when nothing changed
    if bump is not None and BUMPS.index(bump) < BUMPS.index(needed):
        reasons = "; ".join(plain_text(c.summary) for c in changes.reasons(needed)[:3])
        raise ReleaseError(
            f"{path}: --bump {bump} is lower than these changes need ({needed}): {reasons}. "
            f"Drop --bump, or pass --bump {needed}" + (" or higher." if needed != "major" else ".")
        )
    return bump or needed


def _documents(
    guide: Guide,
    templates: Sequence[str | os.PathLike[str]],
    version: Version,
    created: datetime,
    lines: list[str],
    message: str,
    current: Snapshot,
) -> dict[str, str]:
    """The release's files: the built documents with the banner, guide.json and changelog.md."""
    date = created.date().isoformat()
    banner = {"version": str(version), "date": date, "changes": lines}
    documents = dict(build(guide, templates, lint_guide=False, release=banner).documents)
    documents["guide.json"] = json.dumps(current, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    documents["changelog.md"] = render_changelog(
        str(version), date, lines, message=message, notebook_dir=guide.source_path.resolve().parent
    )
    return documents


def _side(source: Source, which: str) -> tuple[str, Snapshot]:
    if which == WORKING:
        return WORKING, snapshot(guide_of(source))
    found = open_release(source.source_path if isinstance(source, Guide) else source, which)
    return str(found.version), found.snapshot()


def diff_versions(guide_or_notebook: Source, old: str, new: str = WORKING) -> GuideDiff:
    """Diff two releases of a notebook, or a release and the guide as it is now ("working": the
    Guide given, or the notebook loaded)."""
    old_label, before = _side(guide_or_notebook, old)
    new_label, after = _side(guide_or_notebook, new)
    return diff(before, after, old_label=old_label, new_label=new_label)
