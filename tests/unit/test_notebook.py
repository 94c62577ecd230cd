"""Reading notebooks into Guides: titles, sections, rules, tagged cells, jupytext twins and bad input."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

import labelbook as lb
from labelbook.errors import NotebookError

TASK_SOURCE = """\
import labelbook as lb

task = lb.Task(
    name="trajectory-rating",
    fields=[lb.TextField("instruction"), lb.ChatField("trajectory")],
    questions=[
        lb.LabelQuestion("outcome", labels={"success": "All done.", "partial": "Some.", "failure": "None."}),
        lb.TextQuestion("rationale", required=False),
    ],
    overlap=3,
)"""

EXAMPLE_SOURCE = """\
example = lb.Example(
    record={"instruction": "Fix the test", "trajectory": [{"role": "shell", "command": "ls", "output": ""}]},
    answers={"outcome": "partial"},
    explanation="The tests never ran, see [R-partial-tests].",
)"""

DUPLICATE_LABELS = """\
import labelbook as lb

task = lb.Task(
    name="t",
    fields=[lb.TextField("x")],
    questions=[lb.LabelQuestion("outcome", labels=["success", "partial", "partial"])],
)"""


def task_cell(source: str = TASK_SOURCE) -> Any:
    return new_code_cell(source, metadata={"tags": ["labelbook:task"]})


def example_cell(source: str = EXAMPLE_SOURCE) -> Any:
    return new_code_cell(source, metadata={"tags": ["labelbook:example"]})


def write(tmp_path: Path, *cells: Any, name: str = "guide.ipynb") -> Path:
    path = tmp_path / name
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


def load_cells(tmp_path: Path, *cells: Any) -> lb.Guide:
    return lb.load(write(tmp_path, *cells))


def test_a_small_guide(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        new_markdown_cell("# Rating agent trajectories\n\nYou will read what an agent did."),
        new_code_cell("import pandas as pd", metadata={"tags": ["labelbook:hide"]}),
        task_cell(),
        new_markdown_cell("## Outcomes\n\n- [R-partial-tests] If the tests never ran, at most partial."),
        example_cell(),
    )
    guide = lb.load(path)
    assert guide.title == "Rating agent trajectories"
    assert guide.task.name == "trajectory-rating"
    assert guide.task_cell == 3
    assert [(s.id, s.title, s.level, s.cells) for s in guide.sections] == [
        ("introduction", "", 0, (1,)),
        ("outcomes", "Outcomes", 2, (4, 5)),
    ]
    assert guide.sections[0].body == "You will read what an agent did."
    assert guide.rules == (
        lb.Rule("R-partial-tests", "If the tests never ran, at most partial.", "outcomes", 4),
    )
    (example,) = guide.examples
    assert (example.id, example.section_id, example.cell) == ("outcomes-example-1", "outcomes", 5)
    assert example.answers == {"outcome": "partial"}
    assert guide.source_path == path
    assert guide.source_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert guide.section("outcomes").examples == (example,)


@pytest.mark.parametrize(
    ("cells", "title", "metadata"),
    [
        (["---\ntitle: From front matter\nversion: 2\n---\n# Heading"], "From front matter", None),
        (["---\nowner: research\n---\n\n# From heading"], "From heading", {"owner": "research"}),
        (["Intro text", "# Late heading"], "Late heading", {}),
        (["## Only a second-level heading"], "guide", {}),
        ([], "guide", {}),
    ],
)
def test_title_and_metadata(
    tmp_path: Path, cells: list[str], title: str, metadata: dict[str, Any] | None
) -> None:
    guide = load_cells(tmp_path, *map(new_markdown_cell, cells), task_cell())
    assert guide.title == title
    if metadata is not None:
        assert dict(guide.metadata) == metadata


def test_a_horizontal_rule_at_the_top_is_not_front_matter(tmp_path: Path) -> None:
    guide = load_cells(tmp_path, new_markdown_cell("---\n\n## First\n\n---\n\ntext"), task_cell())
    assert (dict(guide.metadata), [s.id for s in guide.sections]) == ({}, ["introduction", "first"])


def test_front_matter_in_a_raw_cell(tmp_path: Path) -> None:
    guide = load_cells(tmp_path, new_raw_cell("---\ntitle: Raw\n---"), task_cell())
    assert (guide.title, dict(guide.metadata), guide.sections) == ("Raw", {"title": "Raw"}, ())


def test_a_first_heading_that_differs_from_the_front_matter_title_is_a_section(tmp_path: Path) -> None:
    guide = load_cells(tmp_path, new_markdown_cell("---\ntitle: Guide\n---\n# Overview\n\nText"), task_cell())
    assert [(s.id, s.level) for s in guide.sections] == [("overview", 1)]


@pytest.mark.parametrize(
    ("markdown", "ids"),
    [
        ("## Partial success", ["partial-success"]),
        ("## Partial success {#partial}", ["partial"]),
        ("## What's `partial`?  ", ["whats-partial"]),
        ("## [Linked](https://example.org) *heading*", ["linked-heading"]),
        ("## Examples\n\n### Examples\n\n## Examples", ["examples", "examples-2", "examples-3"]),
        ("## Auto\n\n## Other {#auto}", ["auto-2", "auto"]),
        ("## Réussite partielle", ["réussite-partielle"]),
        ("Setext heading\n--------------", ["setext-heading"]),
        ("## A\n\n#### Not a section\n\n### B", ["a", "b"]),
        ("```\n## not a heading\n```", ["introduction"]),
        ("> ## Quoted heading\n\n- ## Heading in a list", ["introduction"]),
    ],
)
def test_section_ids(tmp_path: Path, markdown: str, ids: list[str]) -> None:
    guide = load_cells(tmp_path, task_cell(), new_markdown_cell(markdown))
    assert [s.id for s in guide.sections] == ids


def test_explicit_ids_are_marked_and_stripped_from_titles(tmp_path: Path) -> None:
    guide = load_cells(tmp_path, task_cell(), new_markdown_cell("## Partial success {#partial}\n\nBody"))
    (section,) = guide.sections
    assert (section.title, section.explicit_id, section.body) == ("Partial success", True, "Body")


def test_sections_span_cells_and_split_within_cells(tmp_path: Path) -> None:
    guide = load_cells(
        tmp_path,
        new_markdown_cell("## One\n\nfirst"),
        task_cell(),
        new_markdown_cell("more of one\n\n## Two\n\nsecond\n\n### Two point one\n\nthird"),
    )
    assert [(s.id, s.cells, s.body) for s in guide.sections] == [
        ("one", (1, 3), "first\n\nmore of one"),
        ("two", (3,), "second"),
        ("two-point-one", (3,), "third"),
    ]


@pytest.mark.parametrize(
    ("markdown", "rules"),
    [
        ("- [R-1] Read everything.", [("R-1", "Read everything.")]),
        (
            "1. [R-partial-tests] Tests never ran.\n2. [R2] Two.",
            [("R-partial-tests", "Tests never ran."), ("R2", "Two.")],
        ),
        ("[R-3.1] A paragraph rule\nover two lines.", [("R-3.1", "A paragraph rule\nover two lines.")]),
        ("- [x] a task list item\n- [Reference] not a rule\n- see [R-1]", []),
        ("```\n[R-9] in code\n```", []),
    ],
)
def test_rules(tmp_path: Path, markdown: str, rules: list[tuple[str, str]]) -> None:
    guide = load_cells(tmp_path, task_cell(), new_markdown_cell("## Rules\n\n" + markdown))
    assert [(r.id, r.text) for r in guide.rules] == rules
    assert all(r.section_id == "rules" and r.cell == 2 for r in guide.rules)


def test_examples_belong_to_the_section_they_appear_in(tmp_path: Path) -> None:
    many = """examples = [
    lb.Example(record={"instruction": "a"}, answers={"outcome": "success"}),
    lb.Example(record={"instruction": "b"}, answers={"outcome": "failure"}, id="b-fails"),
]"""
    guide = load_cells(
        tmp_path,
        task_cell(),
        example_cell(),
        new_markdown_cell("## Success"),
        new_markdown_cell("Prose before the examples."),
        example_cell(many),
        new_markdown_cell("## Failure {#fail}"),
        example_cell(),
    )
    assert [(e.id, e.section_id, e.cell) for e in guide.examples] == [
        ("introduction-example-1", "introduction", 2),
        ("success-example-1", "success", 5),
        ("b-fails", "success", 5),
        ("fail-example-1", "fail", 7),
    ]
    success = guide.section("success")
    assert [type(b).__name__ for b in success.blocks] == ["Markdown", "WorkedExample", "WorkedExample"]


def test_example_cells_can_use_the_task_and_files_beside_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "sample.json").write_text(json.dumps({"instruction": "from a file"}))
    source = (
        "import json, pathlib\n"
        "record = json.loads(pathlib.Path('sample.json').read_text())\n"
        "example = lb.Example(record=record, answers={task.questions[0].name: 'success'})"
    )
    guide = load_cells(tmp_path, task_cell(), example_cell(source))
    assert guide.examples[0].record == {"instruction": "from a file"}
    assert guide.examples[0].answers == {"outcome": "success"}


def test_hidden_cells_are_dropped(tmp_path: Path) -> None:
    guide = load_cells(
        tmp_path,
        new_markdown_cell(
            "## Internal notes\n\n- [R-secret] never shown", metadata={"tags": ["labelbook:hide"]}
        ),
        task_cell(),
        new_code_cell(EXAMPLE_SOURCE, metadata={"tags": ["labelbook:example", "labelbook:hide"]}),
        new_markdown_cell("## Public"),
    )
    assert [s.id for s in guide.sections] == ["public"]
    assert guide.rules == () and guide.examples == ()


def test_show_output_keeps_text_tables_and_images_with_alt_text(tmp_path: Path) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    cell = new_code_cell(
        "show()",
        metadata={"tags": ["labelbook:show-output"], "labelbook": {"alt": ["first screenshot", "unused"]}},
        outputs=[
            new_output("stream", name="stdout", text="hello\n"),
            new_output("stream", name="stderr", text="a warning\n"),
            new_output(
                "display_data", data={"image/png": png[:8] + "\n" + png[8:], "text/plain": "<Figure>"}
            ),
            new_output(
                "execute_result", data={"text/html": "<table></table>", "text/plain": "df"}, execution_count=1
            ),
            new_output(
                "display_data",
                data={"image/png": png},
                metadata={"image/png": {"alt": "own alt", "width": 10}},
            ),
            new_output("error", ename="ValueError", evalue="x", traceback=[]),
        ],
    )
    untagged = new_code_cell("x", outputs=[new_output("stream", name="stdout", text="not shown\n")])
    guide = load_cells(tmp_path, task_cell(), new_markdown_cell("## Data"), cell, untagged)
    assert [(o.kind, o.mime_type, o.data, o.alt) for o in guide.section("data").outputs] == [
        ("text", "text/plain", "hello\n", ""),
        ("image", "image/png", png, "first screenshot"),
        ("html", "text/html", "<table></table>", ""),
        ("image", "image/png", png, "own alt"),
    ]


def test_markdown_attachments_become_data_uris(tmp_path: Path) -> None:
    cell = new_markdown_cell("## Look\n\n![a screenshot](attachment:shot.png)")
    cell["attachments"] = {"shot.png": {"image/png": "iVBORw0KGgo=\n"}}
    guide = load_cells(tmp_path, task_cell(), cell)
    assert guide.sections[0].body == "![a screenshot](data:image/png;base64,iVBORw0KGgo=)"


def test_old_notebook_formats_are_upgraded(tmp_path: Path) -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Old guide"},
                    {"cell_type": "code", "metadata": {"tags": ["labelbook:task"]}, "input": TASK_SOURCE,
                     "language": "python", "outputs": []},
                    {"cell_type": "markdown", "metadata": {}, "source": "## Part\n\n- [R-1] rule"},
                ]
            }
        ],
    }  # fmt: skip
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    guide = lb.load(path)
    assert (guide.title, [s.id for s in guide.sections], guide.task_cell) == ("Old guide", ["part"], 2)


def _twin_cells() -> list[Any]:
    return [
        new_markdown_cell("---\ntitle: Twin\nversion: 1\n---"),
        new_markdown_cell("Read this first.\n\n## Outcomes {#outcomes}\n\n- [R-1] One.\n- [R-2] Two."),
        new_code_cell("import pandas as pd", metadata={"tags": ["labelbook:hide"]}),
        task_cell(),
        new_markdown_cell("### Partial\n\nSome text with `code`."),
        example_cell(),
        new_code_cell("x = 1"),
    ]


@pytest.mark.parametrize("fmt", ["py:percent", "py:light", "md"])
def test_a_jupytext_twin_loads_to_the_same_guide(tmp_path: Path, fmt: str) -> None:
    notebook = new_notebook(cells=_twin_cells())
    ipynb = tmp_path / "guide.ipynb"
    nbformat.write(notebook, ipynb)
    twin = tmp_path / f"twin.{fmt.split(':')[0]}"
    jupytext.write(notebook, twin, fmt=fmt)
    from_ipynb, from_twin = lb.load(ipynb), lb.load(twin)
    assert from_ipynb.source_hash != from_twin.source_hash
    assert dataclasses.replace(from_twin, source_path=ipynb, source_hash=from_ipynb.source_hash) == from_ipynb
    assert [r.id for r in from_twin.rules] == ["R-1", "R-2"]


def test_import_labelbook_leaves_the_notebook_libraries_unloaded() -> None:
    lazy = "{'nbformat', 'jupytext', 'yaml', 'markdown_it'}"
    code = f"import sys, labelbook; print(sorted({lazy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- bad input ----------------------------------------------------------------------------------


def _raw(tmp_path: Path, text: str, name: str = "guide.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _notebook_json(*cells: Any) -> str:
    return nbformat.writes(new_notebook(cells=list(cells)))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda p: _raw(p, _notebook_json(task_cell())[:-40]),
            ["guide.ipynb", "invalid JSON at line", "truncated"],
        ),
        (lambda p: _raw(p, "not json"), ["guide.ipynb: invalid JSON at line 1, column 1"]),
        (lambda p: _raw(p, '{"cells": []}'), ["not a Jupyter notebook"]),
        (lambda p: _raw(p, '{"nbformat": 5, "cells": []}'), ["nbformat 5 is newer"]),
        (
            lambda p: _raw(
                p,
                json.dumps(
                    {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "markdown"}]}
                ),
            ),
            ["guide.ipynb, cell 1: the cell has no text 'source'"],
        ),
        (lambda p: _raw(p, "x", name="guide.docx"), ["unsupported file type '.docx'", ".ipynb, .py, .md"]),
        (lambda p: p / "missing.ipynb", ["missing.ipynb: no such file"]),
        (
            lambda p: write(p, new_markdown_cell("# Title")),
            ["no cell is tagged 'labelbook:task'", "Cell Tags"],
        ),
        (
            lambda p: write(p, task_cell(), new_markdown_cell("x"), task_cell()),
            ["cells 1, 3 are all tagged", "Keep the tag on one"],
        ),
        (
            lambda p: write(
                p,
                new_markdown_cell("# T"),
                task_cell("import labelbook as lb\n\ntask = lb.Task(name='t', fields=[], questions=[])"),
            ),
            [
                "guide.ipynb, cell 2 (labelbook:task) raised TaskError",
                "line 3 of the cell",
                "at least one field",
            ],
        ),
        (
            lambda p: write(p, task_cell("x = 1\nraise ValueError('boom')")),
            [
                "cell 1 (labelbook:task) raised ValueError",
                "(line 2 of the cell: `raise ValueError('boom')`): boom",
            ],
        ),
        (
            lambda p: write(p, task_cell("task = pd.read_csv('x')")),
            ["raised NameError", "name 'pd' is not defined", "Import or define `pd` in cell 1"],
        ),
        (
            lambda p: write(p, task_cell(DUPLICATE_LABELS)),
            ["cell 1 (labelbook:task) raised TaskError", "duplicate label 'partial'"],
        ),
        (
            lambda p: write(p, task_cell("t = 1")),
            ["cell 1 (labelbook:task): the cell ran but did not bind `task`"],
        ),
        (lambda p: write(p, task_cell("task = {'name': 'x'}")), ["`task` is a dict, not an lb.Task"]),
        (
            lambda p: write(p, task_cell("%matplotlib inline\ntask = 1")),
            [
                "cell 1 (labelbook:task): SyntaxError at line 1",
                "Remove the IPython magic `%matplotlib inline` from cell 1",
            ],
        ),
        (
            lambda p: write(p, new_markdown_cell("x"), task_cell(), example_cell("ex = 1")),
            ["guide.ipynb, cell 3 (labelbook:example): the cell ran but did not bind `example`"],
        ),
        (
            lambda p: write(p, task_cell(), example_cell("example = {'record': {}}")),
            ["`example` must be an lb.Example"],
        ),
        (
            lambda p: write(
                p, task_cell(), example_cell("example = lb.Example(record={}, answers={}, explanation=3)")
            ),
            ["cell 2 (labelbook:example) raised TaskError", "Example explanation must be a string"],
        ),
        (
            lambda p: write(p, task_cell(), new_code_cell("", metadata={"tags": ["labelbook:exmaple"]})),
            ["cell 2: unknown tag 'labelbook:exmaple'; did you mean 'labelbook:example'?"],
        ),
        (
            lambda p: write(p, new_markdown_cell("x", metadata={"tags": ["labelbook:task"]})),
            ["cell 1: the tag 'labelbook:task' belongs on a code cell, not a markdown cell"],
        ),
        (
            lambda p: write(p, new_markdown_cell("---\ntitle: [unclosed\n---"), task_cell()),
            ["guide.ipynb, cell 1: the front matter is not valid YAML at line"],
        ),
        (
            lambda p: write(p, new_markdown_cell("---\n- a list\n---"), task_cell()),
            ["must be `key: value` lines"],
        ),
    ],
)
def test_bad_input_names_the_file_the_cell_and_the_fix(
    tmp_path: Path, make: Any, expected: list[str]
) -> None:
    path = make(tmp_path)
    with pytest.raises(NotebookError) as caught:
        lb.load(path)
    for fragment in expected:
        assert fragment in str(caught.value)
    assert caught.value.path == path, "the error carries the notebook"
    named = [
        int(n) for n in re.findall(r"\d+", (re.search(r"\bcells? [\d, ]+", caught.value.problem) or [""])[0])
    ]
    assert caught.value.cell == named[-1] if named else caught.value.cell is None, (
        "it carries the cell it names"
    )


def test_an_unknown_question_type_in_a_task_json_names_the_task_cell(tmp_path: Path) -> None:
    data = json.loads(
        lb.Task("t", [lb.TextField("x")], [lb.LabelQuestion("q", labels={"a": "", "b": ""})]).to_json()
    )
    data["questions"][0]["type"] = "likert"
    (tmp_path / "task.json").write_text(json.dumps(data))
    path = write(
        tmp_path, task_cell("import pathlib\ntask = lb.Task.from_json(pathlib.Path('task.json').read_text())")
    )
    with pytest.raises(NotebookError) as caught:
        lb.load(path)
    assert "cell 1 (labelbook:task) raised TaskError" in str(caught.value)
    assert "unknown type 'likert'" in str(caught.value)


def test_a_broken_jupytext_file_is_a_notebook_error(tmp_path: Path) -> None:
    path = _raw(tmp_path, "---\njupyter:\n  kernelspec:\n    name: python3\n---\n\n# T\n", name="guide.md")
    with pytest.raises(NotebookError, match=r"guide\.md: jupytext cannot read this notebook"):
        lb.load(path)


def test_loading_leaves_the_working_directory_alone(tmp_path: Path) -> None:
    before = Path.cwd()
    with pytest.raises(NotebookError):
        lb.load(write(tmp_path, task_cell("raise RuntimeError('x')")))
    assert Path.cwd() == before
