"""Rendering a Guide: the example's documents (snapshots), template lookup, markdown features and safety.

Snapshots live in tests/unit/snapshots/; after an intended change, regenerate them with
`LABELBOOK_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_render.py` and review the diff.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import labelbook as lb
from labelbook import render
from labelbook.errors import TemplateNotFound

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "trajectory-rating"
PREFERENCE = ROOT / "examples" / "preference" / "guide.ipynb"
SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("LABELBOOK_UPDATE_SNAPSHOTS") == "1"

TASK = """\
task = lb.Task(
    name="t",
    fields=[lb.TextField("text"), lb.ChatField("trajectory", required=False)],
    questions=[lb.LabelQuestion("sentiment", description="How the writer feels.",
                                labels={"positive": "Likes it.", "negative": "Dislikes it."})],
)"""


def write(tmp_path: Path, *cells: Any, name: str = "guide.ipynb") -> Path:
    path = tmp_path / name
    nbformat.write(
        new_notebook(cells=[new_code_cell(TASK, metadata={"tags": ["labelbook:task"]}), *cells]), path
    )
    return path


def example_cell(source: str) -> Any:
    return new_code_cell(source, metadata={"tags": ["labelbook:example"]})


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot {name} did not exist; wrote it: review and commit it")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, rerun with LABELBOOK_UPDATE_SNAPSHOTS=1 and review the diff"
    )


# ---------------------------------------------------------------------------------------------
# The example


def test_the_example_renders_to_its_snapshots() -> None:
    documents = render.render_all(lb.load(EXAMPLE / "guide.ipynb"))
    assert set(documents) == {"guide.md", "guide.html", "task.json"}
    for name, text in documents.items():
        assert_snapshot(f"trajectory-rating.{name}", text)


def test_the_preference_draft_renders_to_its_snapshots() -> None:
    documents = render.render_all(lb.load(PREFERENCE))
    for name in ("guide.md", "guide.html"):
        assert_snapshot(f"preference.{name}", documents[name])


def test_the_jupytext_twin_builds_the_same_documents() -> None:
    from_ipynb = render.render_all(lb.load(EXAMPLE / "guide.ipynb"))
    from_py = render.render_all(lb.load(EXAMPLE / "guide.py"))
    assert from_py == from_ipynb


def test_task_json_is_the_tasks_own_and_round_trips() -> None:
    guide = lb.load(EXAMPLE / "guide.ipynb")
    text = render.render_all(guide)["task.json"]
    assert text == guide.task.to_json()
    assert lb.Task.from_json(text).to_json() == text


def test_the_example_is_lint_clean() -> None:
    assert lb.lint(lb.load(EXAMPLE / "guide.ipynb")) == []


def test_documents_do_not_depend_on_where_the_notebook_is(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE / "guide.ipynb", tmp_path / "moved.ipynb")
    assert render.render_all(lb.load(tmp_path / "moved.ipynb")) == render.render_all(
        lb.load(EXAMPLE / "guide.ipynb")
    )


# ---------------------------------------------------------------------------------------------
# What a contractor sees


class Page(html.parser.HTMLParser):
    """Collects tags with their attributes, heading levels and text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def headings(self) -> list[int]:
        return [int(name[1]) for name, _ in self.tags if re.fullmatch(r"h[1-6]", name)]


def test_the_contractor_page_is_accessible_and_self_contained() -> None:
    page_html = render.render_all(lb.load(EXAMPLE / "guide.ipynb"))["guide.html"]
    page = Page(page_html)
    assert page.all("html")[0]["lang"] == "en"
    assert [t for t, _ in page.tags].count("main") == 1
    assert page.all("nav") and page.all("header")
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    steps = [b - a for a, b in zip(page.headings, page.headings[1:], strict=False)]
    assert max(steps) <= 1, f"heading levels skip: {page.headings}"
    assert all("alt" in img for img in page.all("img"))
    # Self-contained: nothing is fetched from elsewhere.
    assert not page.all("link") and not page.all("script")
    assert not [a for a in page.all("img") if not a["src"].startswith("data:")]
    assert "@media print" in page_html


def test_trajectories_show_tool_calls_and_shell_commands_with_output() -> None:
    page = render.render_all(lb.load(EXAMPLE / "guide.ipynb"))
    text = "".join(Page(page["guide.html"]).text)
    assert "$ pytest -q tests/test_dates.py" in text
    assert "2 passed in 0.04s" in text
    assert "exit code 2" in text
    assert "tool call bash" in " ".join(text.split())
    assert "> $ pytest -q tests/test_dates.py\n> ..\n> 2 passed in 0.04s" in page["guide.md"]


def test_a_tool_call_without_a_command_shows_its_arguments_and_a_malformed_chat_shows_json(
    tmp_path: Path,
) -> None:
    calls = [{"role": "assistant", "tool_calls": [{"name": "search", "arguments": '{"query": "dates"}'}]}]
    path = write(
        tmp_path,
        example_cell(f"example = lb.Example(record={{'text': 'x', 'trajectory': {calls!r}}}, answers={{}})"),
        example_cell("example = lb.Example(record={'text': 'x', 'trajectory': 'not a list'}, answers={})"),
    )
    documents = render.render_all(lb.load(path))
    assert "&#34;query&#34;: &#34;dates&#34;" in documents["guide.html"]
    assert '"query": "dates"' in documents["guide.md"]
    assert "<code>not a list</code>" in documents["guide.html"]


def test_glossary_lists_every_label_with_its_definition() -> None:
    documents = render.render_all(lb.load(EXAMPLE / "guide.ipynb"))
    guide = lb.load(EXAMPLE / "guide.ipynb")
    outcome = guide.task.question("outcome")
    assert isinstance(outcome, lb.LabelQuestion)
    for label, definition in outcome.labels.items():
        assert f"- **{label}**: {definition}" in documents["guide.md"]
        assert f'id="label-outcome-{label}"' in documents["guide.html"]


@pytest.mark.parametrize(
    ("name", "title"),
    [("answer_a", "Answer A"), ("prompt", "Prompt"), ("final-state", "Final state"), ("model_2", "Model 2"),
     ("is_a_bug", "Is a bug")],
)  # fmt: skip
def test_readable_names(name: str, title: str) -> None:
    assert lb.task.readable_name(name) == title
    assert lb.TextField(name).display_title == title
    assert lb.TextField(name, title="Given").display_title == "Given"


def test_fields_and_questions_without_titles_show_readable_titles() -> None:
    documents = render.render_all(lb.load(PREFERENCE))
    markdown, page = documents["guide.md"], documents["guide.html"]
    for title in ("Prompt", "Answer A", "Answer B"):
        assert f"**{title}**\n" in markdown and f'<p class="field-title">{title}</p>' in page
    assert "**Preferred**: Which answer" in markdown and "<h3>Confidence</h3>" in page
    assert "- **Preferred**: a" in markdown and "<dt>Preferred</dt>" in page
    assert "answer_a" not in markdown and "answer_a" not in "".join(Page(page).text)
    assert '"title": "answer_a"' in documents["task.json"]  # the schema keeps what was written


def test_free_text_answers_read_as_the_examples_rationale_not_as_correct_answers() -> None:
    documents = render.render_all(lb.load(PREFERENCE))
    first = documents["guide.md"].split("### Example: A wrong date")[1].split("### Example")[0]
    correct = first.split("**Correct answers**")[1].split("\n\n**")[0]
    assert "Preferred" in correct and "Confidence" in correct and "Reason" not in correct
    assert "**Reason**: B gives the wrong year [R-correct]." in first
    page = documents["guide.html"]
    answers = page.split('<div class="answers">')[1].split("</div>")[0]
    assert "<dt>Preferred</dt>" in answers and "Reason" not in answers
    assert '<p class="field-title">Reason</p>' in page


def test_a_rule_cited_in_an_answer_is_linked_like_in_the_explanation() -> None:
    page = render.render_all(lb.load(PREFERENCE))["guide.html"]
    example = page.split('id="comparing-example-1"')[1].split("</article>")[0]
    reason = example.split('<p class="field-title">Reason</p>')[1].split("</div>")[0]
    explanation = example.split('<p class="field-title">Explanation</p>')[1].split("</div>")[0]
    link = '<a href="#R-correct" class="rule-ref">R-correct</a>'
    assert link in reason and link in explanation
    # A known rule's id written bare, "(R-better)", is a citation too; an unknown one stays text.
    assert '(<a href="#R-better" class="rule-ref">R-better</a>)' in page
    assert render.markdown_to_html("see R-nowhere", rules=["R-better"]) == "<p>see R-nowhere</p>\n"
    linked = render.markdown_to_html("see [R-better](#R-better)", rules=["R-better"])
    assert linked == '<p>see <a href="#R-better">R-better</a></p>\n'  # never a link inside a link


def test_placeholders_never_reach_a_contractor(tmp_path: Path) -> None:
    rating = "lb.RatingQuestion('sure', values=[1, 2, 3], definitions={1: 'A guess.'})"
    task = TASK.replace('"negative": "Dislikes it."', '"negative": ""').replace("})],", f"}}), {rating}],")
    path = tmp_path / "guide.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(task, metadata={"tags": ["labelbook:task"]})]), path)
    documents = render.render_all(lb.load(path))
    for text in (documents["guide.md"], documents["guide.html"]):
        assert "yet" not in text.lower()
    assert (
        "- **negative**\n" in documents["guide.md"]
    )  # the label is listed; what to add is the lint's to say
    assert "- scale: 1, 2, 3\n- **1**: A guess.\n" in documents["guide.md"]
    assert (
        'id="label-sure-1"' in documents["guide.html"] and 'id="label-sure-2"' not in documents["guide.html"]
    )


def test_the_release_slot_shows_the_version_and_what_changed(tmp_path: Path) -> None:
    guide = lb.load(write(tmp_path, new_markdown_cell("# Guide")))
    release = {"version": "1.3.0", "date": "2025-01-02", "changes": ["Clarified **partial**."]}
    assert "Guidelines version" not in render.render(guide, "argilla")
    md = render.render(guide, "argilla", release=release)
    page = render.render(guide, "contractor", release=release)
    assert "> **Guidelines version 1.3.0** · 2025-01-02" in md and "> - Clarified **partial**." in md
    assert "Guidelines version 1.3.0" in page and "<strong>partial</strong>" in page


def test_markdown_tables_footnotes_and_rule_anchors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        new_markdown_cell(
            "## Rules\n\n- [R-one] A rule.[^1]\n\nSee [R-one] and [R-two].\n\n"
            "| a | b |\n|---|--:|\n| 1 | 2 |\n\n[^1]: A footnote."
        ),
    )
    page = render.render(lb.load(path), "contractor")
    assert '<span class="rule-id" id="R-one">R-one</span>' in page
    assert '<a href="#R-one" class="rule-ref">R-one</a>' in page
    assert "<table>" in page and 'style="text-align:right"' in page
    assert 'class="footnotes' in page


def test_code_fences_are_kept_verbatim_in_markdown() -> None:
    text = "```html\n<script>alert(1)</script>\n[x](javascript:alert(1))\n```"
    assert render.clean_markdown(text) == text


# ---------------------------------------------------------------------------------------------
# Safety: nothing active from a notebook reaches a document

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "Inline <b onmouseover=alert(1)>bold</b> text.",
    "<div>\n<object data=x></object><embed src=x><form action=javascript:alert(1)><input></form>\n</div>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "- a list with <script>alert(1)</script> inside\n> and a <img src=x onerror=alert(1)> quote",
]
_ACTIVE_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "form",
    "input",
    "svg",
    "style",
    "base",
    "meta",
    "link",
}


def assert_inert(document: str, *, allow_tags: frozenset[str] = frozenset()) -> None:
    page = Page(document)
    for tag, attrs in page.tags:
        assert tag not in _ACTIVE_TAGS - allow_tags, f"<{tag}> reached the document"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}=...> reached the document"
            probe = re.sub(r"[\x00-\x20]", "", value).lower()
            assert "javascript:" not in probe, f"<{tag} {name}={value!r}> reached the document"
            if name in ("href", "src", "action", "formaction"):
                assert not probe.startswith("data:text"), f"<{tag} {name}={value!r}>"


def permissive_html(markdown: str) -> str:
    """What a renderer that trusts its input (raw HTML on, every link allowed) would make of guide.md."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md.render(markdown)


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("where", ["section", "explanation", "definition", "chat", "title"])
def test_no_script_handler_or_javascript_url_reaches_a_document(
    tmp_path: Path, attack: str, where: str
) -> None:
    cells: list[Any] = [new_markdown_cell("# Guide\n\n## Section\n\nSafe text.")]
    global TASK
    task = TASK
    if where == "section":
        cells.append(new_markdown_cell(attack))
    elif where == "title":
        cells.append(new_markdown_cell("## " + attack.replace("\n", " ")))
    elif where == "definition":
        task = TASK.replace('"Likes it."', repr(attack))
    elif where == "explanation":
        cells.append(
            example_cell(
                f"example = lb.Example(record={{'text': 'x'}}, answers={{}}, explanation={attack!r})"
            )
        )
    else:
        chat = [
            {"role": "assistant", "content": attack},
            {"role": "shell", "command": attack, "output": attack},
        ]
        cells.append(
            example_cell(
                f"example = lb.Example(record={{'text': {attack!r}, 'trajectory': {chat!r}}}, answers={{}})"
            )
        )
    path = tmp_path / "guide.ipynb"
    nbformat.write(
        new_notebook(cells=[new_code_cell(task, metadata={"tags": ["labelbook:task"]}), *cells]), path
    )
    documents = render.render_all(lb.load(path))
    assert_inert(documents["guide.html"], allow_tags=frozenset({"style", "meta"}))
    assert documents["guide.html"].count("<style>") == 1 and documents["guide.html"].count("<script") == 0
    assert_inert(permissive_html(documents["guide.md"]))


def test_sanitized_html_keeps_harmless_markup() -> None:
    text = (
        '<details><summary>More</summary>\n\n<kbd>Ctrl</kbd> and <a href="https://example.org">a link</a>\n'
        "</details>"
    )
    page = render.markdown_to_html(text)
    assert "<details>" in page and "<kbd>Ctrl</kbd>" in page and 'href="https://example.org"' in page


def test_cell_output_html_tables_are_sanitized(tmp_path: Path) -> None:
    output = new_output(
        "execute_result",
        data={"text/html": "<table onclick=alert(1)><tr><td>1</td></tr></table><script>x()</script>"},
        execution_count=1,
    )
    cell = new_code_cell(
        "df", metadata={"tags": ["labelbook:show-output"]}, outputs=[output], execution_count=1
    )
    documents = render.render_all(lb.load(write(tmp_path, new_markdown_cell("## Data"), cell)))
    assert "<td>1</td>" in documents["guide.html"] and "<td>1</td>" in documents["guide.md"]
    assert_inert(documents["guide.html"], allow_tags=frozenset({"style", "meta"}))
    assert_inert(permissive_html(documents["guide.md"]))


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.org/a.png", True),
        ("#partial", True),
        ("img/chart.png", True),
        ("mailto:lead@example.org", True),
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("javascript:alert(1)", False),
        (" JAVA\tSCRIPT:alert(1)", False),
        ("&#106;avascript:alert(1)", False),
        ("vbscript:msgbox(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("data:image/svg+xml;base64,PHN2Zz4=", False),
        ("file:///etc/passwd", False),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    assert (render.safe_url(url) == url) is safe


# ---------------------------------------------------------------------------------------------
# Template lookup


def make_template(
    folder: Path, marker: str, files: tuple[str, ...] = ("guide.md.j2", "guide.html.j2")
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_text(f"{marker} {{{{ title }}}}\n")
    return folder


def test_templates_are_found_by_path_then_beside_the_notebook_then_packaged(tmp_path: Path) -> None:
    path = write(tmp_path, new_markdown_cell("# My guide"))
    guide = lb.load(path)
    assert render.render(guide, "argilla").startswith("# My guide")
    make_template(tmp_path / "instruction_templates" / "argilla", "beside")
    assert render.render(guide, "argilla") == "beside My guide\n"
    explicit = make_template(tmp_path / "elsewhere" / "argilla", "explicit")
    assert render.render(guide, explicit) == "explicit My guide\n"
    assert render.render(guide, str(explicit / "guide.md.j2")) == "explicit My guide\n"


def test_a_template_override_can_extend_the_packaged_one(tmp_path: Path) -> None:
    folder = tmp_path / "instruction_templates" / "contractor"
    folder.mkdir(parents=True)
    (folder / "guide.html.j2").write_text(
        '{% extends "labelbook/contractor/guide.html.j2" %}'
        "{% block glossary %}<p>NO GLOSSARY</p>{% endblock %}"
    )
    page = render.render(lb.load(write(tmp_path, new_markdown_cell("# G"))), "contractor")
    assert "<p>NO GLOSSARY</p>" in page and 'id="glossary"' not in page and "<nav" in page


def test_a_template_folder_overrides_only_the_files_it_holds(tmp_path: Path) -> None:
    make_template(tmp_path / "plain", "PLAIN", files=("guide.html.j2",))
    guide = lb.load(write(tmp_path, new_markdown_cell("# G")))
    documents = render.render_all(guide, [tmp_path / "plain"])
    assert documents["guide.html"] == "PLAIN G\n"
    assert documents["guide.md"].startswith("# G\n")


def test_a_missing_template_lists_every_place_searched(tmp_path: Path) -> None:
    guide = lb.load(write(tmp_path, new_markdown_cell("# G")))
    with pytest.raises(TemplateNotFound) as caught:
        render.render(guide, "fancy", filename="guide.html.j2")
    searched = [
        tmp_path / "instruction_templates" / "fancy" / "guide.html.j2",
        render.packaged_templates() / "fancy" / "guide.html.j2",
    ]
    assert caught.value.searched == tuple(searched)
    for place in searched:
        assert str(place) in str(caught.value)
    with pytest.raises(TemplateNotFound, match="holds none of"):
        render.render_all(guide, [tmp_path / "no-such-folder"])


def test_packaged_templates_are_found_in_a_wheel_and_in_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert render.packaged_templates() == ROOT / "instruction_templates"
    installed = tmp_path / "site-packages" / "labelbook"
    (installed / "instruction_templates" / "argilla").mkdir(parents=True)
    monkeypatch.setattr(render, "__file__", str(installed / "render.py"))
    assert render.packaged_templates() == installed / "instruction_templates"


def test_the_wheel_ships_the_templates_as_package_data() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["instruction_templates"] == "labelbook/instruction_templates"
    for output in render.OUTPUTS:
        assert (ROOT / "instruction_templates" / output.default / output.template).is_file()


def test_rendering_does_not_mutate_the_guide_or_leak_state(tmp_path: Path) -> None:
    guide = lb.load(EXAMPLE / "guide.ipynb")
    first = render.render_all(guide)
    render.markdown_to_html("#### Heading", doc_id="other")
    assert render.render_all(guide) == first
    assert json.loads(first["task.json"])["name"] == "trajectory-rating"


def test_documents_render_the_same_in_parallel_threads() -> None:
    # The heading-anchor prefix is per thread: another thread's document never lends it its ids.
    import sys
    from concurrent.futures import ThreadPoolExecutor

    texts = {f"doc{n}": "".join(f"#### Step {k}\n\ntext {k}\n\n" for k in range(40)) for n in range(8)}
    serial = {doc_id: render.markdown_to_html(text, doc_id=doc_id) for doc_id, text in texts.items()}
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, inside every render
    try:
        with ThreadPoolExecutor(8) as pool:
            rendered = pool.map(lambda doc_id: render.markdown_to_html(texts[doc_id], doc_id=doc_id), texts)
            parallel = dict(zip(texts, rendered, strict=True))
    finally:
        sys.setswitchinterval(interval)
    assert parallel == serial
    assert 'id="doc3-step-7"' in serial["doc3"]


def test_template_macros_render_a_record_as_the_contractor_page_does() -> None:
    guide = lb.load(EXAMPLE / "guide.ipynb")
    macros = render.template_macros(guide)
    field = guide.task.field("instruction")
    shown = str(macros.record_value(field, "Fix <b>the</b> test")).strip()
    assert shown == '<pre class="text" tabindex="0">Fix &lt;b&gt;the&lt;/b&gt; test</pre>'
    example = str(macros.record_value(field, guide.examples[0].record["instruction"])).strip()
    assert example in render.render(guide, "contractor")
