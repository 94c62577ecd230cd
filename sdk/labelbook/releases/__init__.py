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

Version numbers follow the change (see `diff`): **major** when answers given under the old
version may be invalid now, **minor** when the meaning of the guidelines changed, **patch** when
no answer can change (typos, formatting). The precise typo rule is `is_typo_fix`.

One module per concern, in dependency order:

    version     Version, Bump: semantic version numbers
    snapshot    snapshot(guide) -> Snapshot: the structure guide.json stores and `diff` compares,
                typed as stored (TypedDicts of the JSON)
    wording     is_typo_fix, word_diff: typo or meaning, word-level highlights
    changes     Change, GuideDiff: what a diff holds
    diff_task   the task's part of a diff (fields, questions, labels, metadata)
    diff        diff(old, new): two snapshots compared
    store       Release and the store on disk: read, check, lock, write atomically
    changelog   changelog lines and the diff page, for people
    deploylog   deployments.jsonl: when a release went live where
    make        release(...) and diff_versions(...): the pipeline (`labelbook.build`) into the store
"""

from __future__ import annotations

from labelbook.releases.changelog import changelog_lines, grouped, render_changelog, render_diff_html
from labelbook.releases.changes import Change, GuideDiff
from labelbook.releases.deploylog import DEPLOYMENTS, Deployment, deployments, live_release, record_deployment
from labelbook.releases.diff import diff
from labelbook.releases.make import WORKING, diff_versions, release
from labelbook.releases.snapshot import SNAPSHOT_SCHEMA, Snapshot, snapshot
from labelbook.releases.store import (
    DOCUMENTS,
    MANIFEST,
    Release,
    author,
    latest_release,
    list_releases,
    open_release,
    store_path,
)
from labelbook.releases.version import BUMPS, FIRST_VERSION, Bump, Version
from labelbook.releases.wording import Segment, is_typo_fix, word_diff

__all__ = [
    "BUMPS",
    "DEPLOYMENTS",
    "DOCUMENTS",
    "FIRST_VERSION",
    "MANIFEST",
    "SNAPSHOT_SCHEMA",
    "WORKING",
    "Bump",
    "Change",
    "Deployment",
    "GuideDiff",
    "Release",
    "Segment",
    "Snapshot",
    "Version",
    "author",
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
