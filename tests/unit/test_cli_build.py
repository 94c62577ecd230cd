"""`labelbook build` and `labelbook lint` as run by a user: outputs, exit codes, atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import labelbook as lb
from labelbook import cli, files, render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "trajectory-rating" / "guide.ipynb"
GOOD_TASK = """\
task = lb.Task(name="t", fields=[lb.TextField("text")],
               questions=[lb.LabelQuestion("label", description="Pick one.",
                                           labels={"a": "A.", "b": "B."})])"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it."""
    command = [sys.executable, "-m", "labelbook.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def notebook(tmp_path: Path, task_source: str | None, *cells: Any, name: str = "guide.ipynb") -> Path:
    first = [] if task_source is None else [new_code_cell(task_source, metadata={"tags": ["labelbook:task"]})]
    path = tmp_path / name
    nbformat.write(new_notebook(cells=[new_markdown_cell("# A guide"), *first, *cells]), path)
    return path


def test_build_writes_the_three_documents(tmp_path: Path) -> None:
    result = run("build", str(EXAMPLE), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    expected = render.render_all(lb.load(EXAMPLE))
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir()}
    assert written == expected
    assert result.stdout.count("wrote ") == 3


def test_build_of_the_jupytext_twin_writes_the_same_bytes(tmp_path: Path) -> None:
    for source, out in ((EXAMPLE, "a"), (EXAMPLE.with_suffix(".py"), "b")):
        assert run("build", str(source), "-o", str(tmp_path / out)).returncode == 0
    for name in ("guide.md", "guide.html", "task.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


BAD_INPUTS = {
    "invalid JSON": ('{"cells": [}', ["invalid JSON at line 1", "Restore it from version control"]),
    "truncated file": (None, ["invalid JSON at line", "Restore it from version control"]),
    "no task cell": ("no-task", ["no cell is tagged 'labelbook:task'", "Add the tag"]),
    "task cell raises": ("raise RuntimeError('the data file is missing')",
                         ["cell 2", "RuntimeError", "the data file is missing"]),
    "unknown question type": ('task = lb.Task(name="t", fields=[lb.TextField("x")], '
                              'questions=[lb.ChoiceQuestion("q")])',
                              ["cell 2", "AttributeError", "ChoiceQuestion"]),
    "duplicate label names": ('task = lb.Task(name="t", fields=[lb.TextField("x")], '
                              'questions=[lb.LabelQuestion("q", labels=["a", "b", "a"])])',
                              ["cell 2", "duplicate label 'a'", "rename one"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("command", ["build", "lint"])
def test_unusable_input_exits_2_with_file_cell_and_fix_and_no_traceback(
    tmp_path: Path, case: str, command: str
) -> None:
    source, expected = BAD_INPUTS[case]
    path = tmp_path / "guide.ipynb"
    if case == "truncated file":
        text = EXAMPLE.read_text()
        path.write_text(text[: len(text) // 2])
    elif case == "invalid JSON":
        path.write_text(str(source))
    else:
        notebook(tmp_path, None if source == "no-task" else source)
    args = ["-o", str(tmp_path / "out")] if command == "build" else []
    result = run(command, str(path), *args)
    if command == "lint" and case not in ("invalid JSON", "truncated file"):
        # A missing or failing task cell is reported as a finding (LB104), with the exit code of
        # `build`: the notebook is unusable.
        assert result.returncode == 2, result.stdout + result.stderr
        assert "LB104" in result.stdout
        output = result.stdout
    else:
        assert result.returncode == 2, result.stdout + result.stderr
        output = result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert str(path) in output
    for fragment in expected:
        assert fragment in output
    assert not (tmp_path / "out").exists()


def test_build_writes_a_draft_with_warnings_and_exits_0(tmp_path: Path) -> None:
    path = notebook(tmp_path, GOOD_TASK.replace('description="Pick one.",', ""))
    result = run("build", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "guide.html").exists() and result.stdout.count("wrote ") == 3
    assert "LB102 warning" in result.stderr and "question 'label' has no description" in result.stderr
    assert "0 errors" in result.stderr and "`labelbook release` allowed" in result.stderr


def test_build_writes_even_with_lint_errors_and_exits_1(tmp_path: Path) -> None:
    path = notebook(tmp_path, GOOD_TASK.replace('"A."', '""'))
    result = run("build", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert (tmp_path / "out" / "guide.html").exists() and result.stdout.count("wrote ") == 3
    assert "LB101 error" in result.stderr and "fix the errors before `labelbook release`" in result.stderr
    skipped = run("build", str(path), "-o", str(tmp_path / "out2"), "--skip-lint")
    assert skipped.returncode == 0 and "LB101" not in skipped.stderr


@pytest.mark.parametrize(
    ("source", "fix"),
    [
        (
            'task = lb.Task(name="t"',
            'Correct the Python syntax of cell 2 at line 1 (`task = lb.Task(name="t"`)',
        ),
        ("%load_ext labelbook\n" + GOOD_TASK, "Remove the IPython magic `%load_ext labelbook` from cell 2"),
    ],
)
def test_a_syntax_error_in_the_task_cell_exits_2_from_lint_and_build_alike(
    tmp_path: Path, source: str, fix: str
) -> None:
    path = notebook(tmp_path, source)
    lint_result = run("lint", str(path))
    build_result = run("build", str(path), "-o", str(tmp_path / "out"))
    assert lint_result.returncode == build_result.returncode == 2
    for output in (lint_result.stdout, build_result.stderr):
        assert "cell 2" in output and "SyntaxError at line 1 of the cell" in output
        assert fix in output and "Tag one code cell" not in output
        assert ".." not in output.replace("...", "") and "?." not in output
    assert "fix: " + fix in lint_result.stdout
    assert not (tmp_path / "out").exists()


def test_a_missing_template_exits_2_listing_the_places_searched(tmp_path: Path) -> None:
    result = run("build", str(EXAMPLE), "-o", str(tmp_path / "out"), "--template", "fancy")
    assert result.returncode == 2
    assert "instruction_templates/fancy/guide.html.j2" in result.stderr
    assert str(render.packaged_templates() / "fancy" / "guide.md.j2") in result.stderr
    assert not (tmp_path / "out").exists()


def test_outputs_are_never_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("guide.md", "guide.html", "task.json"):
        (out / name).write_text("old")
    real_replace = os.replace
    calls: list[str] = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        files.write_texts(out, render.render_all(lb.load(EXAMPLE)))
    monkeypatch.setattr(os, "replace", real_replace)
    expected = render.render_all(lb.load(EXAMPLE))
    for path in out.iterdir():
        assert path.read_text() in ("old", expected[path.name]), f"{path.name} is half-written"
    assert sorted(p.name for p in out.iterdir()) == ["guide.html", "guide.md", "task.json"]  # no temp files


def test_a_render_failure_writes_nothing(tmp_path: Path) -> None:
    templates = tmp_path / "broken"
    templates.mkdir()
    (templates / "guide.html.j2").write_text("{% if %}")
    result = CliRunner().invoke(
        cli.main, ["build", str(EXAMPLE), "-o", str(tmp_path / "out"), "--template", str(templates)]
    )
    assert result.exit_code == 2
    assert "cannot load the template" in result.output
    assert not (tmp_path / "out").exists()


def test_lint_reports_findings_with_location_and_fix(tmp_path: Path) -> None:
    path = notebook(
        tmp_path, GOOD_TASK, new_markdown_cell("## Rules\n\nTODO: write them. Use your judgement.")
    )
    result = run("lint", str(path))
    assert result.returncode == 0, result.stdout  # warnings and hints only
    assert "cell 3, section rules: LB204 warning" in result.stdout
    assert "fix: " in result.stdout
    assert "0 errors, 4 warnings, 1 hint" in result.stdout


def test_lint_json(tmp_path: Path) -> None:
    path = notebook(tmp_path, GOOD_TASK.replace('"A."', '""'))
    result = run("lint", str(path), "--json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["counts"]["error"] == 1
    [error] = [f for f in payload["findings"] if f["severity"] == "error"]
    assert error["code"] == "LB101" and error["cell"] == 2 and error["fix"]


def test_lint_of_the_example_is_clean() -> None:
    result = run("lint", str(EXAMPLE))
    assert result.returncode == 0
    assert "0 errors, 0 warnings, 0 hints" in result.stdout


@pytest.mark.parametrize("command", ["build", "lint"])
def test_help_teaches_with_examples(command: str) -> None:
    result = CliRunner().invoke(cli.main, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"labelbook {command} guide.ipynb" in result.output
    assert "Exit 0" in result.output


def test_the_top_level_help_lists_build_and_lint() -> None:
    result = CliRunner().invoke(cli.main, ["--help"])
    assert "build" in result.output and "lint" in result.output and "server" in result.output
