"""Releases as a researcher meets them: version numbers that follow the change, diffs that show
exactly the edits, a store that survives hand edits, kills and concurrent writers."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

import labelbook as lb
from labelbook import ReleaseError, releases
from labelbook.releases.changes import shorten
from labelbook.releases.store import write_release

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "trajectory-rating" / "guide.ipynb"

REWORD = (
    "The difference between **success** and **partial** is evidence.",
    "What separates **success** from **partial** is whether the change was shown to work.",
)
ADD_LABEL = (
    '"failure": "Nothing required is done,',
    '"unclear": "The trajectory is cut off before the agent finished; say so in the rationale.",\n'
    '                "failure": "Nothing required is done,',
)
REMOVE_LABEL = (
    '"unclear": "The trajectory is cut off before the agent finished; say so in the rationale.",\n',
    "",
)
TYPO = ("Agents often announce success early", "Agents oftne announce success early")


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in the notebook's cells, as the researcher would in Jupyter."""
    nb = nbformat.read(path, as_version=4)
    hits = 0
    for cell in nb.cells:
        if old in cell.source:
            cell.source = cell.source.replace(old, new)
            hits += 1
    assert hits == 1, f"{old!r} found in {hits} cells"
    nbformat.write(nb, path)


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    path = tmp_path / "guide.ipynb"
    shutil.copy(EXAMPLE, path)
    return path


def released(path: Path, message: str = "m", bump: releases.Bump | None = None) -> releases.Release:
    made = releases.release(path, message, bump)
    assert made.created, f"nothing changed: got {made!r} back"
    return made


def test_successive_edits_release_as_1_0_0_then_1_1_0_then_2_0_0(guide: Path) -> None:
    assert str(released(guide, "first").version) == "1.0.0"

    edit(guide, *REWORD)
    edit(guide, *ADD_LABEL)
    second = released(guide, "reword hard cases, add unclear")
    assert (str(second.version), second.bump) == ("1.1.0", "minor")
    changes = releases.diff_versions(guide, "1.0.0", "1.1.0").changes
    assert [(c.kind, c.id, c.action) for c in changes] == [
        ("label", "outcome.unclear", "added"),
        ("section", "success-or-partial", "changed"),
    ]
    assert ("insert", "What separates") in changes[1].segments

    edit(guide, *REMOVE_LABEL)
    third = released(guide, "drop unclear")
    assert (str(third.version), third.bump) == ("2.0.0", "major")
    changes = releases.diff_versions(guide, "1.1.0", "2.0.0").changes
    assert [(c.kind, c.id, c.action, c.bump) for c in changes] == [
        ("label", "outcome.unclear", "removed", "major")
    ]
    assert [str(r.version) for r in releases.list_releases(guide)] == ["1.0.0", "1.1.0", "2.0.0"]


def test_typo_fix_releases_as_a_patch(guide: Path) -> None:
    released(guide)
    edit(guide, *TYPO)
    assert str(released(guide, "typo").version) == "1.0.1"
    edit(guide, TYPO[1], TYPO[0])
    fixed = released(guide, "fix it back")
    assert str(fixed.version) == "1.0.2"
    assert fixed.changes == ["Typos and formatting fixed; nothing else changed."]


LABELS_CELL = 'lb.LabelQuestion(\n            "outcome",'
EDITS: dict[str, tuple[str, str, releases.Bump]] = {
    "section reworded": (*REWORD, "minor"),
    "label added": (*ADD_LABEL[:1], ADD_LABEL[1], "minor"),
    "typo in a section": (*TYPO, "patch"),
    "case and punctuation only": (
        "Read the whole trajectory once",
        "read the whole trajectory, once",
        "patch",
    ),
    "negation is never a typo": (
        "does not count against the agent",
        "does now count against the agent",
        "minor",
    ),
    "rule changed": ("and was fixed later does not count", "and was fixed later still counts", "minor"),
    "rule added": ("- [R-short] One", "- [R-polite] Be polite.\n- [R-short] One", "minor"),
    "label definition reworded": (
        "nothing that worked before is broken",
        "nothing that used to work is broken",
        "minor",
    ),
    "label definition typo": (
        "nothing that worked before is broken",
        "nothing that worked befor is broken",
        "patch",
    ),
    "label renamed": ('"partial": "Some required', '"partly": "Some required', "major"),
    "question type changed": (
        'lb.TextQuestion(\n            "rationale",',
        'lb.RatingQuestion(\n            "rationale", values=[1, 2, 3],',
        "major",
    ),
    "question made optional": (
        'for example `R-verified`.",',
        'for example `R-verified`.", required=False,',
        "minor",
    ),
    "field removed": (
        'lb.TextField(\n            "instruction",\n            title="Instruction",\n'
        '            description="What the agent was asked to do.",\n        ),',
        "",
        "major",
    ),
    "section added": (
        "## Writing the rationale",
        "## Tone {#tone}\n\nBe kind.\n\n## Writing the rationale",
        "minor",
    ),
    "example explanation changed": (
        "This is not **partial**: nothing",
        "It is not partial, since nothing",
        "minor",
    ),
    "example answer changed": (
        '"rationale": "The last test run, after the edit, passes',
        '"rationale": "The final test run, after the edit, passes',
        "minor",
    ),
    "overlap changed": ("overlap=3", "overlap=5", "patch"),
}


@pytest.mark.parametrize(("old", "new", "bump"), EDITS.values(), ids=EDITS.keys())
def test_the_version_bump_follows_the_change(guide: Path, old: str, new: str, bump: str) -> None:
    released(guide)
    edit(guide, old, new)
    changes = releases.diff_versions(guide, "1.0.0", "working")
    assert changes.bump == bump, [c.to_dict() for c in changes.changes]


TYPOS = [
    ("Rate the final state.", "rate the final state", True),
    ("Rate the final state.", "Rate the **final** state.", True),
    ("Rate the final state.", "Rate the finl state.", True),
    ("Rate the\nfinal state.", "Rate the final   state.", True),
    ("each other", "eachother", True),
    ("Rate the final state.", "Rate the first state.", False),
    ("Rate the final state.", "Rate the final state again.", False),
    ("Rate it 3 or more.", "Rate it 4 or more.", False),
    ("It is not partial.", "It is now partial.", False),
    ("a b c d e", "x y z w v", False),
]


@pytest.mark.parametrize(("old", "new", "typo"), TYPOS)
def test_typo_rule(old: str, new: str, typo: bool) -> None:
    assert releases.is_typo_fix(old, new) is typo


def test_nothing_changed_makes_no_release_and_returns_the_latest(guide: Path) -> None:
    first = released(guide)
    again = releases.release(lb.load(guide), "again")  # a Guide works as well as its path
    assert (again, again.created) == (first, False)
    assert len(releases.list_releases(guide)) == 1


def test_bump_may_raise_but_not_lower(guide: Path) -> None:
    released(guide)
    edit(guide, *REWORD)
    with pytest.raises(ReleaseError, match=r"--bump patch is lower than these changes need \(minor\)"):
        releases.release(guide, "m", "patch")
    assert str(released(guide, "m", "major").version) == "2.0.0"


BROKEN_CITATION = ("the evidence [R-verified] asks for", "the evidence [R-verifed] asks for")


def test_lint_errors_block_a_release(guide: Path) -> None:
    edit(guide, *BROKEN_CITATION)
    with pytest.raises(ReleaseError, match="lint error") as caught:
        releases.release(guide, "m")
    assert [f.code for f in caught.value.findings] == ["LB106"]
    assert not releases.list_releases(guide)


def test_lint_warnings_never_block_a_release(guide: Path) -> None:
    edit(guide, 'description="Judge the state the agent left behind, not what it says it did.",', "")
    assert {f.severity for f in lb.lint(lb.load(guide))} == {"warning"}
    assert str(released(guide).version) == "1.0.0"


def test_a_release_leaves_no_lock_file_in_the_store(guide: Path) -> None:
    store = releases.store_path(guide)
    store.mkdir()
    (store / ".lock").touch()  # left by an older labelbook
    released(guide)
    assert sorted(p.name for p in store.iterdir()) == ["1.0.0"]


def test_the_changelog_never_cuts_a_word(guide: Path) -> None:
    released(guide)
    long_definition = (
        "The trajectory is cut off before the agent finished, so nobody can tell whether the change "
        "would have worked; say so in the rationale."
    )
    edit(guide, ADD_LABEL[0], ADD_LABEL[1].replace(ADD_LABEL[1].split('"')[3], long_definition))
    made = released(guide)
    [line] = [line for line in made.changes if "unclear" in line]
    shown = line.split(": ", 1)[1]
    assert shown.endswith("…") and long_definition.startswith(shown[:-1])
    assert long_definition[len(shown) - 1] == " ", f"cut inside a word: {shown!r}"
    assert line in made.text("changelog.md") and shown in made.text("guide.html")


@pytest.mark.parametrize(
    ("text", "limit", "short"),
    [
        ("short enough", 90, "short enough"),
        ("one two three four five", 12, "one two…"),
        ("one two three four five", 8, "one two…"),
        ("use `a long_code_span here` then more", 20, "use…"),
        ("supercalifragilistic", 10, "supercalifragilistic"),
    ],
)
def test_short_cuts_at_a_word_boundary(text: str, limit: int, short: str) -> None:
    assert shorten(text, limit) == short


def test_release_carries_banner_changelog_and_manifest(guide: Path) -> None:
    released(guide)
    edit(guide, *ADD_LABEL)
    made = released(guide, "add unclear", "minor")
    banner = "New label **unclear** for *outcome*"
    assert made.changes[0].startswith(banner)
    assert "Guidelines version 1.1.0" in made.text("guide.html")
    assert banner in made.text("changelog.md") and "What changed in version 1.1.0" in made.text(
        "changelog.md"
    )
    manifest = json.loads((made.path / "manifest.json").read_text())
    assert manifest["message"] == "add unclear" and manifest["previous"] == "1.0.0"
    assert set(manifest["files"]) == {"task.json", "guide.md", "guide.html", "guide.json", "changelog.md"}
    assert manifest["source"]["sha256"] == lb.load(guide).source_hash
    assert made.created_at.tzinfo is not None


@pytest.mark.parametrize("name", ["guide.html", "task.json", "manifest.json", "guide.json"])
def test_hand_edited_release_files_are_detected(guide: Path, name: str) -> None:
    made = released(guide)
    target = made.path / name
    target.write_text(target.read_text().replace("a", "b", 1))
    with pytest.raises(ReleaseError, match=rf"{name}: edited by hand.*restore the folder") as caught:
        releases.open_release(guide, "1.0.0")
    assert str(made.path) in str(caught.value)
    with pytest.raises(ReleaseError):
        releases.release(guide, "m")  # never builds on a damaged release


def test_unknown_version_lists_known_ones(guide: Path) -> None:
    released(guide)
    with pytest.raises(ReleaseError, match=r"no release 9\.9\.9 \(releases: 1\.0\.0\)"):
        releases.open_release(guide, "9.9.9")


# A release in another process that stops just before its final rename, with its temp folder
# written, says so on stdout and waits for a line on stdin: the test decides when it goes on.
_GATED_RELEASE = """
import os, sys
from labelbook import releases
real_rename = os.rename
def gated(src, dst):
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(3)
    real_rename(src, dst)
os.rename = gated
releases.release(sys.argv[1], "concurrent")
"""


def _gated_release(path: Path) -> subprocess.Popen[str]:
    writer = subprocess.Popen(
        [sys.executable, "-c", _GATED_RELEASE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    ready = writer.stdout.readline()  # blocks until the temp folder is written (or the process dies)
    assert ready == "ready\n", writer.communicate(timeout=60)[1]
    return writer


def test_kill_during_release_leaves_a_valid_store(guide: Path) -> None:
    released(guide)
    edit(guide, *REWORD)
    writer = _gated_release(guide)
    store = releases.store_path(guide)
    assert list(store.glob(".tmp-*/manifest.json")), "the writer stops with its temp folder complete"
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=30)
    assert [str(r.version) for r in releases.list_releases(guide)] == ["1.0.0"]
    assert str(released(guide).version) == "1.1.0"
    assert not list(store.glob(".tmp-*")), "the next release cleans up after the killed one"


def test_two_releases_at_once_one_wins(guide: Path) -> None:
    released(guide)
    edit(guide, *REWORD)
    writer = _gated_release(guide)
    with pytest.raises(ReleaseError, match="another release of this notebook is being written"):
        releases.release(guide, "me too")
    _, stderr = writer.communicate("go\n", timeout=60)
    assert writer.returncode == 0, stderr
    assert [str(r.version) for r in releases.list_releases(guide)] == ["1.0.0", "1.1.0"]


def test_rename_is_the_arbiter_when_the_version_exists(guide: Path) -> None:
    released(guide)
    store = releases.store_path(guide)
    with pytest.raises(ReleaseError, match="just written by another process"):
        write_release(store, releases.Version(1, 0, 0), {n: "x" for n in releases.DOCUMENTS}, {})
    assert not list(store.glob(".tmp-*"))


def test_deployment_log_answers_which_release_was_live(guide: Path) -> None:
    released(guide)
    edit(guide, *REWORD)
    released(guide)
    t0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
    releases.record_deployment(guide, "1.0.0", "http://argilla", "ds-1", at=t0)
    releases.record_deployment(
        releases.store_path(guide), "1.1.0", "http://argilla", "ds-1", at=t0 + timedelta(days=2)
    )
    releases.record_deployment(guide, "1.1.0", "http://other", "ds-2", at=t0 + timedelta(days=1))
    live = [releases.live_release(guide, "ds-1", t0 + timedelta(days=d)) for d in (-1, 0, 1, 2, 30)]
    assert live == [None, "1.0.0", "1.0.0", "1.1.0", "1.1.0"]
    assert releases.live_release(guide, "ds-2", t0) is None
    lines = (releases.store_path(guide) / "deployments.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["version"] == "1.0.0"
    with pytest.raises(ReleaseError, match=r"no release 3\.0\.0 to deploy"):
        releases.record_deployment(guide, "3.0.0", "http://argilla", "ds-1")


def test_diff_html_is_self_contained_and_escaped(guide: Path) -> None:
    released(guide)
    edit(guide, *REWORD)
    edit(
        guide,
        "## Writing the rationale",
        "## Tone\n\nNever <script>alert(1)</script> here.\n\n## Writing the rationale",
    )
    page = releases.render_diff_html(releases.diff_versions(guide, "1.0.0", "working"))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<ins>What separates</ins>" in page
    assert "http" not in page.replace("http-equiv", "")  # no external resources


RATING = (
    'lb.TextQuestion(\n            "rationale",',
    'lb.RatingQuestion("clarity", values=[1, 2, 3], description="How easy the trajectory is to follow."),\n'
    '        lb.TextQuestion(\n            "rationale",',
)


def test_meanings_of_a_rating_scale_are_guideline_changes(guide: Path) -> None:
    released(guide)
    edit(guide, *RATING)
    assert released(guide).version == releases.Version(1, 1, 0)  # a question added

    scale = "values=[1, 2, 3], description"
    edit(
        guide,
        scale,
        'values=[1, 2, 3], definitions={1: "Hard to follow.", 3: "Clear at a glance."}, description',
    )
    changes = releases.diff_versions(guide, "1.1.0", "working")
    assert changes.bump == "minor"
    assert [c.summary for c in changes.changes] == [
        "Value **1** of *clarity* now means: Hard to follow.",
        "Value **3** of *clarity* now means: Clear at a glance.",
    ]
    made = released(guide)
    assert made.version == releases.Version(1, 2, 0)
    markdown = (made.path / "guide.md").read_text()
    assert "- scale: 1, 2, 3\n- **1**: Hard to follow.\n- **3**: Clear at a glance." in markdown
    page = (made.path / "guide.html").read_text()
    assert '<dt id="label-clarity-3">3</dt>' in page and 'id="label-clarity-2"' not in page
    assert "definition yet" not in (markdown + page).lower()  # placeholders never reach a contractor

    edit(guide, "Clear at a glance.", "Clear at a glnce.")
    assert releases.diff_versions(guide, "1.2.0", "working").bump == "patch"
    edit(guide, '1: "Hard to follow.", ', "")
    changes = releases.diff_versions(guide, "1.2.0", "working")
    assert changes.bump == "minor"
    assert "Value **1** of *clarity* is no longer defined" in [c.summary for c in changes.changes]
    edit(guide, "values=[1, 2, 3]", "values=[1, 2, 3, 4]")
    assert releases.diff_versions(guide, "1.2.0", "working").bump == "major"  # the scale itself changed
