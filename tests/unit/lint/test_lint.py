"""The clarity lint: every rule with a notebook that trips it and the fixed notebook that does not."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import labelbook as lb
from labelbook.build import lint_path
from labelbook.lint import CHECKS, CODES, LONG_SECTION_WORDS, count, lint

DEFINITIONS = '{"positive": "The writer likes it.", "negative": "The writer dislikes it."}'
TASK = """\
task = lb.Task(
    name="sentiment",
    fields=[lb.TextField("text")],
    questions=[lb.LabelQuestion("sentiment", description="How the writer feels.", labels=DEFINITIONS)],
)"""
INTRO = "# Sentiment\n\nRead the text and say how the writer feels."
BOUNDARY = (
    "## Positive or negative {#boundary}\n\n"
    "- [R-mixed] Mixed feelings: positive if the text recommends the product, negative otherwise."
)
POSITIVE = 'example = lb.Example(record={"text": "Great, buy it."}, answers={"sentiment": "positive"})'
NEGATIVE = (
    'example = lb.Example(record={"text": "Broke in a day."}, answers={"sentiment": "negative"}, '
    'explanation="Nothing recommends it [R-mixed].")'
)


ANCHORS = 'definitions={1: "A guess.", 3: "You would bet on it."}, '


@dataclass
class Notebook:
    """A small lint-clean guide; each case changes one part."""

    definitions: str = DEFINITIONS
    task: str = TASK
    markdown: list[str] = field(default_factory=lambda: [INTRO, BOUNDARY])
    examples: list[str] = field(default_factory=lambda: [POSITIVE, NEGATIVE])
    extra: list[Any] = field(default_factory=list)
    task_tag: bool = True

    def cells(self) -> list[Any]:
        task = self.task.replace("DEFINITIONS", self.definitions)
        cells = [new_markdown_cell(self.markdown[0])]
        cells.append(new_code_cell(task, metadata={"tags": ["labelbook:task"] if self.task_tag else []}))
        cells += [new_markdown_cell(text) for text in self.markdown[1:]]
        cells += [new_code_cell(src, metadata={"tags": ["labelbook:example"]}) for src in self.examples]
        return cells + self.extra

    def write(self, tmp_path: Path) -> Path:
        path = tmp_path / "guide.ipynb"
        nbformat.write(new_notebook(cells=self.cells()), path)
        return path


def rated(definitions: str) -> Notebook:
    """The base notebook with a 1–3 confidence scale; `definitions` is its keyword text, if any."""
    rating = (
        f'lb.RatingQuestion("confidence", values=[1, 2, 3], {definitions}description="How sure you are.")'
    )
    return Notebook(task=TASK.replace("labels=DEFINITIONS)]", f"labels=DEFINITIONS), {rating}]"))


def preference(rule: str) -> Notebook:
    """Labels `a` and `b` (single letters) whose boundary is discussed, or not, by one rule."""
    return Notebook(
        definitions='{"a": "Answer A is better.", "b": "Answer B is better."}',
        markdown=[INTRO, f"## Choosing {{#boundary}}\n\n- [R-mixed] {rule}"],
        examples=[POSITIVE.replace('"positive"}', '"a"}'), NEGATIVE.replace('"negative"}', '"b"}')],
    )


def image_output(alt: str) -> Any:
    output = new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    metadata: dict[str, Any] = {"tags": ["labelbook:show-output"]}
    if alt:
        metadata["labelbook"] = {"alt": alt}
    return new_code_cell("plot()", metadata=metadata, outputs=[output])


def long_section(words: int) -> str:
    return "## Details\n\n" + " ".join(["positive"] + ["word"] * (words - 1))


# (code, what it is about, the notebook that trips the rule, the fixed notebook)
CASES = [
    ("LB101", "label without definition",
     Notebook(definitions='{"positive": "The writer likes it.", "negative": ""}'), Notebook()),
    ("LB101", "labels given as a list",
     Notebook(definitions='["positive", "negative"]'), Notebook()),
    ("LB102", "question without description",
     Notebook(task=TASK.replace('description="How the writer feels.", ', "")), Notebook()),
    ("LB103", "example answer not a label",
     Notebook(examples=[POSITIVE.replace('"positive"}', '"neutral"}'), NEGATIVE]), Notebook()),
    ("LB103", "example answers a question that does not exist",
     Notebook(examples=[POSITIVE.replace('"sentiment": "positive"', '"sentiment": "positive", "mood": "ok"'),
                        NEGATIVE]), Notebook()),
    ("LB104", "no task cell", Notebook(task_tag=False), Notebook()),
    ("LB104", "task cell raises", Notebook(task="raise ValueError('no data file')"), Notebook()),
    ("LB105", "duplicate section ids",
     Notebook(markdown=[INTRO, BOUNDARY, "## Again {#boundary}\n\nMore."]),
     Notebook(markdown=[INTRO, BOUNDARY, "## Again {#again}\n\nMore."])),
    ("LB105", "duplicate rule ids",
     Notebook(markdown=[INTRO, BOUNDARY, "## More\n\n- [R-mixed] Again."]),
     Notebook(markdown=[INTRO, BOUNDARY, "## More\n\n- [R-other] Again."])),
    ("LB105", "duplicate example ids",
     Notebook(examples=[POSITIVE[:-1] + ', id="ex")', NEGATIVE[:-1] + ', id="ex")']),
     Notebook(examples=[POSITIVE[:-1] + ', id="ex1")', NEGATIVE[:-1] + ', id="ex2")'])),
    ("LB106", "link to a missing id",
     Notebook(markdown=[INTRO + " See [the rules](#rules).", BOUNDARY]),
     Notebook(markdown=[INTRO + " See [the rules](#boundary).", BOUNDARY])),
    ("LB106", "raw HTML link to a missing id",
     Notebook(markdown=[INTRO + ' See <a href="#rules">the rules</a>.', BOUNDARY]),
     Notebook(markdown=[INTRO + ' See <a href="#R-mixed">the rule</a>.', BOUNDARY])),
    ("LB106", "citation of a rule that does not exist",
     Notebook(examples=[POSITIVE, NEGATIVE.replace("[R-mixed]", "[R-mixd]")]), Notebook()),
    ("LB107", "markdown image without alt",
     Notebook(markdown=[INTRO + "\n\n![](chart.png)", BOUNDARY]),
     Notebook(markdown=[INTRO + "\n\n![Share of positive answers per week](chart.png)", BOUNDARY])),
    ("LB107", "raw img without alt",
     Notebook(markdown=[INTRO + '\n\n<img src="chart.png">', BOUNDARY]),
     Notebook(markdown=[INTRO + '\n\n<img src="chart.png" alt="A chart">', BOUNDARY])),
    ("LB107", "shown output image without alt",
     Notebook(extra=[image_output("")]), Notebook(extra=[image_output("Answers per label")])),
    ("LB108", "example record with an unknown field",
     Notebook(examples=[POSITIVE.replace('{"text"', '{"txt"'), NEGATIVE]), Notebook()),
    ("LB109", "a label referenced that the question does not have",
     Notebook(markdown=[INTRO + " Mixed texts get the label `mixed`.", BOUNDARY]),
     Notebook(markdown=[INTRO + " Mixed texts get the label `negative`.", BOUNDARY])),
    ("LB109", "a quoted label that does not exist",
     Notebook(markdown=[INTRO, BOUNDARY + ' Never use the "neutral" label.']),
     Notebook(markdown=[INTRO, BOUNDARY + ' Never use the "neutral" wording.'])),
    ("LB109", "a definition referring to a label that does not exist",
     Notebook(definitions='{"positive": "Not the `neutral` label.", "negative": "Dislikes it."}'),
     Notebook(definitions='{"positive": "Not the `negative` label.", "negative": "Dislikes it."}')),
    ("LB201", "label without a worked example", Notebook(examples=[POSITIVE]), Notebook()),
    ("LB202", "two labels never in the same section",
     Notebook(markdown=[INTRO, "## Praise {#boundary}\n\n- [R-mixed] Positive means praise.",
                        "## Complaints\n\nNegative means complaints."],
              examples=[POSITIVE, NEGATIVE.replace("Nothing recommends it [R-mixed].", "Broken.")]),
     Notebook(markdown=[INTRO, "## Praise {#boundary}\n\n- [R-mixed] Positive means praise, not negative.",
                        "## Complaints\n\nNegative means complaints."])),
    ("LB202", "the article 'a' does not name label a",
     preference("Pick b when it is a better answer."),
     preference("Prefer `a` over `b` when A is correct and B is not.")),
    ("LB202", "single letters named as labels",
     preference("Pick b when it is a better answer."),
     preference('Answer "a" rather than the label b when A is correct.')),
    ("LB203", "very long section",
     Notebook(markdown=[INTRO, BOUNDARY, long_section(LONG_SECTION_WORDS + 1)]),
     Notebook(markdown=[INTRO, BOUNDARY, long_section(LONG_SECTION_WORDS)])),
    ("LB204", "TODO in the text",
     Notebook(markdown=[INTRO + "\n\nTODO: explain sarcasm.", BOUNDARY]),
     Notebook(markdown=[INTRO + "\n\nSarcasm counts as negative.", BOUNDARY])),
    ("LB204", "TBD in a label definition",
     Notebook(definitions='{"positive": "The writer likes it.", "negative": "TBD"}'), Notebook()),
    ("LB205", "rating scale without meanings", rated(""), rated(ANCHORS)),
    ("LB205", "one end without a meaning", rated('definitions={1: "A guess."}, '), rated(ANCHORS)),
    ("LB301", "vague wording",
     Notebook(markdown=[INTRO + " Usually the first sentence decides, etc.", BOUNDARY]),
     Notebook(markdown=[INTRO + " The first sentence decides unless a later one contradicts it.", BOUNDARY])),
    ("LB301", "use your judgement",
     Notebook(markdown=[INTRO, BOUNDARY + "\n- [R-other] Otherwise, use your\njudgement."]),
     Notebook(markdown=[INTRO, BOUNDARY + "\n- [R-other] Otherwise, answer negative."])),
]  # fmt: skip


def codes(path: Path) -> list[str]:
    _, findings = lint_path(path)
    return [f.code for f in findings]


@pytest.mark.parametrize(
    ("code", "failing", "passing"), [(c[0], c[2], c[3]) for c in CASES], ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_rule_trips_on_the_bad_notebook_and_not_on_the_fixed_one(
    tmp_path: Path, code: str, failing: Notebook, passing: Notebook
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    assert code in codes(failing.write(tmp_path / "bad"))
    assert code not in codes(passing.write(tmp_path / "good"))
    if code != "LB104":  # LB104 comes from loading the notebook, not from a check
        guide = lb.load(tmp_path / "bad" / "guide.ipynb")
        raising = [check.__name__ for check in CHECKS if any(f.code == code for f in check(guide))]
        assert raising == [CHECK_OF[code]], f"{code} must come from its own check only"


# Each check's docstring starts with the code it reports ("LB101: ...").
CHECK_OF = {re.match(r"(LB\d{3}):", check.__doc__ or "")[1]: check.__name__ for check in CHECKS}  # type: ignore[index]


def test_every_code_has_a_case_and_exactly_one_check() -> None:
    assert {c[0] for c in CASES} == set(CODES)
    assert len(CHECK_OF) == len(CHECKS), "two checks claim the same code"
    assert set(CHECK_OF) == set(CODES) - {"LB104"}


def test_the_base_notebook_is_clean(tmp_path: Path) -> None:
    assert lint_path(Notebook().write(tmp_path)) == (lb.load(tmp_path / "guide.ipynb"), [])


def test_findings_say_where_and_how_to_fix(tmp_path: Path) -> None:
    notebook = Notebook(examples=[POSITIVE.replace('"positive"}', '"neutral"}'), NEGATIVE])
    guide = lb.load(notebook.write(tmp_path))
    [finding] = [f for f in lb.lint(guide) if f.code == "LB103"]
    assert finding.severity == "error"
    assert finding.cell == 4 and finding.section == "boundary"
    assert "'neutral' is not a label of question 'sentiment'" in finding.message
    assert "'positive'" in finding.message and finding.fix
    assert str(finding).startswith("cell 4, section boundary: LB103 error:")
    assert finding.to_dict() == {
        "code": "LB103",
        "severity": "error",
        "message": finding.message,
        "fix": finding.fix,
        "cell": 4,
        "section": "boundary",
    }


def test_a_failing_task_cell_is_reported_with_its_cell_and_error(tmp_path: Path) -> None:
    guide, findings = lint_path(Notebook(task="raise ValueError('no data file')").write(tmp_path))
    assert guide is None
    [finding] = findings
    assert (finding.code, finding.severity, finding.cell) == ("LB104", "error", 2)
    assert "ValueError" in finding.message and "no data file" in finding.message


def test_findings_come_errors_first(tmp_path: Path) -> None:
    notebook = Notebook(
        markdown=[INTRO + " Usually.", BOUNDARY], examples=[POSITIVE.replace("positive", "x")]
    )
    findings = lint(lb.load(notebook.write(tmp_path)))
    order = {"error": 0, "warning": 1, "hint": 2}
    assert [order[f.severity] for f in findings] == sorted(order[f.severity] for f in findings)
    assert {f.severity for f in findings} == {"error", "warning", "hint"}
    counts = count(findings)
    summary = f"{counts['error']} error{'s' if counts['error'] != 1 else ''}"
    assert repr(findings).startswith(f"<Findings: {summary}, "), "a short summary, errors first"
    page = findings._repr_html_()
    assert page.count("<tr>") == len(findings) + 1 and "<script" not in page


SEVERITIES = {
    # A contractor cannot answer correctly: errors, which block a release.
    "LB101": "error", "LB103": "error", "LB104": "error", "LB105": "error", "LB106": "error",
    "LB108": "error", "LB109": "error",
    # Probably unclear or incomplete: warnings, which never block anything.
    "LB102": "warning", "LB107": "warning", "LB201": "warning", "LB202": "warning", "LB203": "warning",
    "LB204": "warning", "LB205": "warning",
    "LB301": "hint",
}  # fmt: skip


def test_severity_follows_the_consequence_for_a_contractor() -> None:
    assert {code: severity for code, (severity, _) in CODES.items()} == SEVERITIES


# (text, label, whether the text names the label)
MENTIONS = [
    ("Pick b when it is a better answer.", "a", False),
    ("Pick b when it is a better answer.", "b", False),
    ("Prefer `a` over `b` when A is correct.", "a", True),
    ("Prefer `a` over `b` when A is correct.", "b", True),
    ("**a** wins when B is wrong.", "a", True),
    ('Answer "a" when B is wrong.', "a", True),
    ("Answer \u201ca\u201d when B is wrong.", "a", True),
    ("Then the label b applies.", "b", True),
    ("Then the b label applies.", "b", True),
    ("Label a record as tie when both are equal.", "a", False),
    ("Choose a label.", "a", False),
    ("A is better.", "a", False),
    ("Use `A` here.", "a", False),
    ("It's not b's fault.", "b", False),
    ("```\na\n```", "a", False),
    ("Partial success is rare.", "partial", True),
    ("An off-topic reply.", "off_topic", True),
    ("A good answer is short.", "good", False),
    ("Use the **good** label for short answers.", "good", True),
    ("Both are fine: answer tie.", "tie", True),
    ("**The agent did nothing partial here**", "partial", True),
]


@pytest.mark.parametrize(("text", "label", "named"), MENTIONS)
def test_labels_are_found_with_their_spelling_and_context(text: str, label: str, named: bool) -> None:
    from labelbook.lint.prose import mentions

    assert mentions(text, label) is named


def test_emphasis_is_not_a_label_reference(tmp_path: Path) -> None:
    notebook = Notebook(markdown=[INTRO + " Do not label **anything** sarcastic as positive.", BOUNDARY])
    assert "LB109" not in codes(notebook.write(tmp_path))


def test_a_misspelled_label_reference_suggests_the_label(tmp_path: Path) -> None:
    notebook = Notebook(markdown=[INTRO + " Such texts get the label `postive`.", BOUNDARY])
    [finding] = [f for f in lint(lb.load(notebook.write(tmp_path))) if f.code == "LB109"]
    assert (finding.severity, finding.cell, finding.section) == ("error", 1, "introduction")
    assert "`postive`" in finding.message and "Did you mean `positive`?" in finding.fix


SYNTAX_ERRORS = [
    # (task cell source, what the fix line must say)
    ('task = lb.Task(name="t"', "Correct the Python syntax of cell 2 at line 1"),
    ("%pip install labelbook\ntask = None", "Remove the IPython magic `%pip install labelbook` from cell 2"),
    ("task = lb.Task(name='t' fields=[])", "Correct the Python syntax of cell 2 at line 1"),
]


@pytest.mark.parametrize(("source", "fix"), SYNTAX_ERRORS)
def test_a_syntax_error_in_the_task_cell_gets_a_fix_that_fits(tmp_path: Path, source: str, fix: str) -> None:
    guide, [finding] = lint_path(Notebook(task=source).write(tmp_path))
    assert guide is None
    assert (finding.code, finding.cell) == ("LB104", 2)
    assert "SyntaxError at line" in finding.message and "cell 2" in finding.message
    assert finding.fix.startswith(fix) and "cell 2" in finding.fix
    assert "Tag one code cell" not in finding.fix
    for text in (finding.message, finding.fix, str(finding)):
        assert not re.search(r"[.?!]\.|\.\.(?!\.)|\?\.|: \.", text), text


def test_vague_words_inside_code_spans_are_not_flagged(tmp_path: Path) -> None:
    notebook = Notebook(markdown=[INTRO + " The flag `--usually` is a name.", BOUNDARY])
    assert "LB301" not in codes(notebook.write(tmp_path))
