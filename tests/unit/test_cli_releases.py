"""`labelbook release`, `versions` and `diff` as a user runs them: messages, files named, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labelbook import releases

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trajectory-rating" / "guide.ipynb"
REWORD = (
    "The difference between **success** and **partial** is evidence.",
    "What separates **success** from **partial** is whether the change was shown to work.",
)


def edit(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    assert sum(old in cell.source for cell in nb.cells) == 1
    for cell in nb.cells:
        cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "labelbook.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    path = tmp_path / "guide.ipynb"
    shutil.copy(EXAMPLE, path)
    return path


def test_release_versions_and_diff(guide: Path, tmp_path: Path) -> None:
    first = run("release", str(guide), "-m", "first")
    assert first.returncode == 0, first.stderr
    assert "released 1.0.0" in first.stdout
    edit(guide, *REWORD)
    second = run("release", str(guide), "-m", "clarify success vs partial")
    assert second.returncode == 0 and "released 1.1.0 (minor)" in second.stdout
    assert "Section *Success or partial?* reworded." in second.stdout
    releases.record_deployment(guide, "1.1.0", "http://localhost:6900", "ds-42")

    listing = run("versions", str(guide), "--json")
    data = json.loads(listing.stdout)
    assert [r["version"] for r in data["releases"]] == ["1.0.0", "1.1.0"]
    assert data["releases"][1]["message"] == "clarify success vs partial"
    assert data["releases"][1]["deployments"][0]["dataset_id"] == "ds-42"
    text = run("versions", str(guide)).stdout
    assert "ds-42 @ http://localhost:6900" in text and "not deployed" in text

    shown = run("diff", str(guide), "1.0.0", "1.1.0", "--html", str(tmp_path / "d.html"))
    assert shown.returncode == 0, shown.stderr
    assert "1 change; needs a minor bump" in shown.stdout and "[-The difference between-]" in shown.stdout
    assert "<ins>What separates</ins>" in (tmp_path / "d.html").read_text()
    as_json = json.loads(run("diff", str(guide), "1.0.0", "working", "--json").stdout)
    assert as_json["bump"] == "minor" and as_json["changes"][0]["id"] == "success-or-partial"


def test_nothing_changed_exits_0_without_a_release(guide: Path) -> None:
    run("release", str(guide), "-m", "first")
    again = run("release", str(guide), "-m", "again")
    assert again.returncode == 0
    assert "nothing changed since 1.0.0; no release made" in again.stdout


FAILURES = {
    "bump lower than needed": (
        ["--bump", "patch"],
        1,
        ["--bump patch is lower than these changes need (minor)", "pass --bump minor"],
    ),
    "lint errors": (["LINT"], 1, ["LB", "not released: 1 lint error", "labelbook lint"]),
    "missing notebook": (["MISSING"], 2, ["no such file"]),
}


@pytest.mark.parametrize(("extra", "code", "messages"), FAILURES.values(), ids=FAILURES.keys())
def test_release_failures(guide: Path, extra: list[str], code: int, messages: list[str]) -> None:
    run("release", str(guide), "-m", "first")
    edit(guide, *REWORD)
    target = guide
    if extra == ["LINT"]:
        edit(guide, "the evidence [R-verified] asks for", "the evidence [R-verifed] asks for")
        extra = []
    elif extra == ["MISSING"]:
        target, extra = guide.with_name("nope.ipynb"), []
    result = run("release", str(target), "-m", "m", *extra)
    assert result.returncode == code, result.stderr
    for message in messages:
        assert message in result.stderr
    assert [str(r.version) for r in releases.list_releases(guide)] == ["1.0.0"]


def test_unknown_version_and_hand_edits_name_the_file(guide: Path) -> None:
    run("release", str(guide), "-m", "first")
    unknown = run("diff", str(guide), "1.0.0", "7.0.0")
    assert unknown.returncode == 1
    assert "no release 7.0.0 (releases: 1.0.0)" in unknown.stderr and "labelbook versions" in unknown.stderr
    task_json = releases.store_path(guide) / "1.0.0" / "task.json"
    task_json.write_text(task_json.read_text() + " ")
    damaged = run("versions", str(guide))
    assert damaged.returncode == 1
    assert f"{task_json}: edited by hand" in damaged.stderr and "git checkout" in damaged.stderr
