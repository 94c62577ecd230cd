"""A researcher's first draft of their own guide (examples/preference): it builds and releases with
warnings only, and the lint keeps asking for the a/b boundary until a rule really discusses it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import labelbook as lb
from labelbook import releases

DRAFT = Path(__file__).resolve().parents[3] / "examples" / "preference" / "guide.ipynb"
PROSE_RULE = "- [R-better] Read both answers in full; pick b when it is a better answer."
BOUNDARY_RULE = (
    "- [R-better] Prefer `a` over `b` when A is correct and B is not, or when both are correct and A "
    "answers more of the question."
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "labelbook.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    """The first draft, copied where its releases can be written."""
    path = tmp_path / "guide.ipynb"
    shutil.copy(DRAFT, path)
    return path


def rewrite_rule(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if old in c.source]
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def ab_boundary(path: Path) -> list[lb.lint.Finding]:
    return [f for f in lb.lint(lb.load(path)) if f.code == "LB202" and "'a' and 'b'" in f.message]


def test_the_draft_is_what_a_first_draft_looks_like(draft: Path) -> None:
    task = lb.load(draft).task
    assert [f.name for f in task.fields] == ["prompt", "answer_a", "answer_b"]
    preferred, confidence, reason = task.questions
    assert isinstance(preferred, lb.LabelQuestion) and list(preferred.labels) == ["a", "b", "tie"]
    assert all(preferred.labels.values())
    assert isinstance(confidence, lb.RatingQuestion) and confidence.values == (1, 2, 3, 4, 5)
    assert not confidence.definitions
    assert isinstance(reason, lb.TextQuestion) and not reason.description
    assert PROSE_RULE in lb.load(draft).section("comparing").body


def test_the_draft_has_warnings_and_no_errors(draft: Path) -> None:
    findings = lb.lint(lb.load(draft))
    assert {f.severity for f in findings} == {"warning"}
    codes = {f.code for f in findings}
    assert {"LB102", "LB205", "LB202"} <= codes
    [missing] = [f for f in findings if f.code == "LB102"]
    assert "'reason'" in missing.message and missing.cell == 2


def test_the_draft_builds_and_releases_with_warnings(draft: Path, tmp_path: Path) -> None:
    built = run("build", str(draft), "-o", str(tmp_path / "out"))
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["guide.html", "guide.md", "task.json"]
    assert "LB205 warning" in built.stderr and "0 errors" in built.stderr
    made = run("release", str(draft), "-m", "first draft")
    assert made.returncode == 0, made.stderr
    assert [str(r.version) for r in releases.list_releases(draft)] == ["1.0.0"]
    assert sorted(p.name for p in releases.store_path(draft).iterdir()) == ["1.0.0"]  # no .lock


def test_the_ab_boundary_is_asked_for_until_a_rule_discusses_it(draft: Path) -> None:
    [finding] = ab_boundary(draft)
    assert finding.severity == "warning" and "`a` rather than `b`" in finding.fix
    rewrite_rule(draft, PROSE_RULE, BOUNDARY_RULE)
    assert ab_boundary(draft) == []
    rewrite_rule(draft, BOUNDARY_RULE, PROSE_RULE)
    assert len(ab_boundary(draft)) == 1
