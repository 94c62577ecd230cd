"""The one pipeline, notebook -> Guide -> findings -> documents, as `labelbook build` and releases use it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import labelbook as lb
from labelbook import files, render
from labelbook.build import build, lint_path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trajectory-rating" / "guide.ipynb"


def test_build_is_load_then_lint_then_render() -> None:
    guide = lb.load(EXAMPLE)
    built = build(EXAMPLE)
    assert built.guide == guide
    assert list(built.findings) == lb.lint(guide)
    assert dict(built.documents) == render.render_all(guide)
    assert build(guide).documents == built.documents, "a Guide builds as its path does"


def test_build_without_lint_and_with_a_release_banner() -> None:
    built = build(
        EXAMPLE, lint_guide=False, release={"version": "9.9.9", "date": "2026-12-01", "changes": []}
    )
    assert built.findings == () and built.errors == ()
    assert "9.9.9" in built.documents["guide.html"]


def test_lint_path_agrees_with_build() -> None:
    guide, findings = lint_path(EXAMPLE)
    assert guide == lb.load(EXAMPLE) and findings == list(build(EXAMPLE).findings)


def test_write_puts_every_document_in_place_with_readable_permissions(tmp_path: Path) -> None:
    written = build(EXAMPLE, lint_guide=False).write(tmp_path / "out")
    assert sorted(p.name for p in written) == ["guide.html", "guide.md", "task.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["guide.html", "guide.md", "task.json"]
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in written)


def test_a_failed_staged_write_leaves_the_target_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "frame.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.staged(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["frame.csv"]
    files.write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["frame.csv"]
