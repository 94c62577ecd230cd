"""The checks, one function per code: each takes a Guide and yields Findings."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterator

from labelbook.errors import TaskError
from labelbook.guide import Guide
from labelbook.lint.findings import LONG_SECTION_WORDS, Check, Finding, finding
from labelbook.lint.prose import (
    inline_tokens,
    mentions,
    normal_name,
    prose_blocks,
    section_texts,
    words_of,
)
from labelbook.markup import RULE_CITATION
from labelbook.task import LabelQuestion, MultiLabelQuestion, RatingQuestion, SpanQuestion, TextQuestion

__all__ = ["CHECKS", "VAGUE_PHRASES"]

VAGUE_PHRASES = (
    "usually",
    "generally",
    "typically",
    "etc.",
    "and so on",
    "use your judgement",
    "use your judgment",
    "use common sense",
    "as appropriate",
    "where appropriate",
    "if necessary",
    "more or less",
    "somewhat",
    "reasonable",
)
"""Words that leave the decision to the annotator without saying how to make it (LB301)."""


# ---------------------------------------------------------------------------------------------
# Errors


def check_label_definitions(guide: Guide) -> Iterator[Finding]:
    """LB101: every label (and ranking option) has a definition; they become the glossary."""
    for question in guide.task.questions:
        for attr in question.definition_maps:
            for name, definition in getattr(question, attr).items():
                if not definition.strip():
                    yield finding(
                        "LB101",
                        f"label {name!r} of question {question.name!r} has no definition.",
                        f"Define it in the task cell: {attr}={{{name!r}: 'what makes an item {name}', ...}}.",
                        guide.task_cell,
                    )


def check_question_descriptions(guide: Guide) -> Iterator[Finding]:
    """LB102: every question says what to judge (shown beside it in Argilla)."""
    for question in guide.task.questions:
        if not question.description.strip():
            yield finding(
                "LB102",
                f"question {question.name!r} has no description.",
                f"Add description='...' to {type(question).__name__}({question.name!r}, ...): "
                "one sentence on what to judge.",
                guide.task_cell,
            )


def check_example_answers(guide: Guide) -> Iterator[Finding]:
    """LB103: every worked example's answers are valid values of their questions."""
    for example in guide.examples:
        for name, value in example.answers.items():
            try:
                guide.task.question(name).validate_value(value)
            except TaskError as err:
                yield finding(
                    "LB103",
                    f"example {example.id!r}: {err}",
                    "Correct the answer in the example cell (or the task, if the label was renamed).",
                    example.cell,
                    example.section_id,
                )


def check_example_records(guide: Guide) -> Iterator[Finding]:
    """LB108: every worked example's record fits the task's fields."""
    for example in guide.examples:
        try:
            guide.task.validate_record(example.record)
        except TaskError as err:
            yield finding(
                "LB108",
                f"example {example.id!r}: {err}",
                "Make the example's record=... hold a valid value for each field of the task.",
                example.cell,
                example.section_id,
            )


def check_duplicate_ids(guide: Guide) -> Iterator[Finding]:
    """LB105: section, rule and example ids are unique (they are anchors and are cited by reports)."""
    places: dict[str, list[tuple[str, int, str]]] = {}
    for section in guide.sections:
        places.setdefault(section.id, []).append(("section", section.cell, section.id))
    for rule in guide.rules:
        places.setdefault(rule.id, []).append(("rule", rule.cell, rule.section_id))
    for example in guide.examples:
        places.setdefault(example.id, []).append(("example", example.cell, example.section_id))
    for anchor, uses in places.items():
        if len(uses) < 2:
            continue
        kinds = ", ".join(f"{kind} in cell {cell}" for kind, cell, _ in uses)
        _, cell, section_id = uses[1]
        yield finding(
            "LB105",
            f"id {anchor!r} is used {len(uses)} times: {kinds}.",
            "Rename all but one; ids are links and report citations, so keep the one already released.",
            cell,
            section_id,
        )


def _anchors(guide: Guide) -> set[str]:
    anchors = {"glossary", "contents", "main", "release"}
    anchors.update(s.id for s in guide.sections)
    anchors.update(r.id for r in guide.rules)
    anchors.update(e.id for e in guide.examples)
    anchors.update(f"question-{q.name}" for q in guide.task.questions)
    return anchors


_RAW_HREF = re.compile(r"""href\s*=\s*["']?#([^"'\s>]*)""", re.I)


def check_internal_links(guide: Guide) -> Iterator[Finding]:
    """LB106: `#id` links point at a section, rule or example; `[R-id]` citations name a rule."""
    anchors = _anchors(guide)
    rules = {r.id for r in guide.rules}
    for section, cell, text in prose_blocks(guide):
        targets: list[str] = []
        for token in inline_tokens(text):
            href = token.attrGet("href") if token.type == "link_open" else None
            if isinstance(href, str) and href.startswith("#"):
                targets.append(href[1:])
            elif token.type == "html_inline":
                targets += _RAW_HREF.findall(token.content)
        targets += [m for m in _RAW_HREF.findall(text) if m not in targets]
        for target in dict.fromkeys(targets):
            if target not in anchors:
                yield finding(
                    "LB106",
                    f"link to #{target} goes nowhere: no section, rule or example has that id.",
                    "Link to an existing id (a heading's slug or its {#id}), or add that {#id} to a heading.",
                    cell,
                    section.id,
                )
        for rule_id in dict.fromkeys(RULE_CITATION.findall(text)):
            if rule_id not in rules:
                yield finding(
                    "LB106",
                    f"[{rule_id}] cites a rule that does not exist.",
                    f"State the rule as a list item starting with [{rule_id}], or cite an existing rule id.",
                    cell,
                    section.id,
                )


def _known_names(guide: Guide) -> set[str]:
    """Every name a guide may call a label: labels, options, rating values, questions, fields, metadata."""
    names: set[str] = set()
    for question in guide.task.questions:
        names.add(question.name)
        names.update(question.meanings())
        for attr in question.definition_maps:
            names.update(getattr(question, attr))
        if isinstance(question, RatingQuestion):
            names.update(str(value) for value in question.values)
    names.update(f.name for f in guide.task.fields)
    names.update(m.name for m in guide.task.metadata)
    return {normal_name(name) for name in names}


def check_label_references(guide: Guide) -> Iterator[Finding]:
    """LB109: a label named as one ("label `x`", "the "x" label") exists in the task."""
    known = _known_names(guide)
    labels = list(dict.fromkeys(label for q in _labelled(guide) for label in q.labels))
    places: list[tuple[str | None, int, str]] = [(s.id, cell, text) for s, cell, text in prose_blocks(guide)]
    for question in guide.task.questions:  # descriptions and definitions are read by contractors too
        places += [
            (None, guide.task_cell, text) for text in (question.description, *question.meanings().values())
        ]
    for section_id, cell, text in places:
        for name in dict.fromkeys(words_of(text).referenced if text else ()):
            if not name.strip() or normal_name(name) in known:
                continue
            close = difflib.get_close_matches(name, labels, n=1)
            hint = f"Did you mean `{close[0]}`? " if close else ""
            yield finding(
                "LB109",
                f"the text refers to label `{name}`, which no question has (labels: "
                f"{', '.join(map(repr, labels)) or 'none'}).",
                f"{hint}Use the label's exact name, or add `{name}` to the question's labels "
                "in the task cell.",
                cell,
                section_id,
            )


_RAW_IMG = re.compile(r"<img\b[^>]*>", re.I)
_ALT = re.compile(r"""\balt\s*=\s*(["'])\s*\S""", re.I)


def check_image_alt_text(guide: Guide) -> Iterator[Finding]:
    """LB107: every image has alt text, for screen readers and for when it fails to load."""
    fix = "Describe the image in its alt text: ![what it shows](image.png)."
    for section, cell, text in prose_blocks(guide):
        missing = sum(1 for t in inline_tokens(text) if t.type == "image" and not t.content.strip())
        missing += sum(1 for tag in _RAW_IMG.findall(text) if not _ALT.search(tag))
        if missing:
            yield finding("LB107", f"{missing} image(s) without alt text.", fix, cell, section.id)
    for section in guide.sections:
        for output in section.outputs:
            if output.kind == "image" and not output.alt.strip():
                yield finding(
                    "LB107",
                    "a shown cell output image has no alt text.",
                    'Set the cell\'s metadata {"labelbook": {"alt": "what the image shows"}}.',
                    output.cell,
                    section.id,
                )


# ---------------------------------------------------------------------------------------------
# Warnings


def _labelled(guide: Guide) -> Iterator[LabelQuestion | MultiLabelQuestion | SpanQuestion]:
    for question in guide.task.questions:
        if isinstance(question, LabelQuestion | MultiLabelQuestion | SpanQuestion):
            yield question


def _example_labels(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {v if isinstance(v, str) else v.get("label") for v in value if isinstance(v, str | dict)}  # type: ignore[misc]
    return set()


def check_label_examples(guide: Guide) -> Iterator[Finding]:
    """LB201: every label is the answer of at least one worked example."""
    for question in _labelled(guide):
        shown: set[str] = set()
        for example in guide.examples:
            if question.name in example.answers:
                shown |= _example_labels(example.answers[question.name])
        for label in question.labels:
            if label not in shown:
                yield finding(
                    "LB201",
                    f"label {label!r} of question {question.name!r} has no worked example.",
                    f"Add a labelbook:example cell whose answers give {question.name!r}: {label!r}, "
                    "in the section that explains the label.",
                    guide.task_cell,
                )


def check_label_boundaries(guide: Guide) -> Iterator[Finding]:
    """LB202: for each pair of labels of a question, some section names both (says where one ends)."""
    free_text = {q.name for q in guide.task.questions if isinstance(q, TextQuestion)}
    sections = [section_texts(section, free_text) for section in guide.sections]
    for question in _labelled(guide):
        if isinstance(question, SpanQuestion):
            continue
        named = [{label for label in question.labels if any(mentions(t, label) for t in texts)}
                 for texts in sections]  # fmt: skip
        for first, second in itertools.combinations(question.labels, 2):
            if not any(first in names and second in names for names in named):
                yield finding(
                    "LB202",
                    f"labels {first!r} and {second!r} of question {question.name!r} are never discussed "
                    "in the same section, so the boundary between them is left to each annotator.",
                    f"Add a rule (or a worked example) that says when an item is `{first}` rather than "
                    f"`{second}`, naming both as labels: in code spans, bold or quotes.",
                    guide.task_cell,
                )


def check_long_sections(guide: Guide) -> Iterator[Finding]:
    """LB203: sections stay short enough to be read, not skimmed."""
    for section in guide.sections:
        words = len(re.findall(r"\w+", section.body))
        if words > LONG_SECTION_WORDS:
            yield finding(
                "LB203",
                f"section {section.id!r} has {words} words (more than {LONG_SECTION_WORDS}).",
                "Split it under ### subheadings, or move background to a hidden cell.",
                section.cell,
                section.id,
            )


def check_rating_anchors(guide: Guide) -> Iterator[Finding]:
    """LB205: a rating scale says what its lowest and highest values mean (else each reads it their way)."""
    for question in guide.task.questions:
        if not isinstance(question, RatingQuestion):
            continue
        ends = (min(question.values), max(question.values))
        missing = [value for value in ends if not question.definitions.get(value, "").strip()]
        if missing:
            yield finding(
                "LB205",
                f"rating question {question.name!r} does not say what "
                f"{' and '.join(map(str, missing))} mean{'s' if len(missing) == 1 else ''}.",
                f"Add definitions={{{ends[0]}: '...', {ends[1]}: '...'}} to "
                f"RatingQuestion({question.name!r}, ...): both ends at least, better every value.",
                guide.task_cell,
            )


_TODO = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b")


def check_todo_markers(guide: Guide) -> Iterator[Finding]:
    """LB204: no unfinished text reaches contractors."""
    for section, cell, text in prose_blocks(guide):
        for marker in dict.fromkeys(_TODO.findall(text)):
            yield finding(
                "LB204",
                f"{marker} marker in the text contractors will read.",
                "Finish the text, or move the note to a cell tagged labelbook:hide.",
                cell,
                section.id,
            )
    task_text = [q.description for q in guide.task.questions]
    task_text += [d for q in guide.task.questions for d in q.meanings().values()]
    for marker in dict.fromkeys(m for text in task_text for m in _TODO.findall(text)):
        yield finding(
            "LB204",
            f"{marker} marker in a question description or label definition.",
            "Finish the description or definition in the task cell.",
            guide.task_cell,
        )


# ---------------------------------------------------------------------------------------------
# Hints


_VAGUE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in VAGUE_PHRASES) + r")(?![\w-])",
    re.I,
)


def check_vague_wording(guide: Guide) -> Iterator[Finding]:
    """LB301: phrases that hand the decision back to the annotator."""
    for section, cell, text in prose_blocks(guide):
        prose = re.sub(r"`[^`]*`", "", text)
        found = [" ".join(m.split()).lower() for m in _VAGUE.findall(prose)]
        for phrase in dict.fromkeys(found):
            yield finding(
                "LB301",
                f"vague wording: {phrase!r}.",
                "Say exactly when it applies (a condition, a threshold, an example) or state the exception "
                "as a rule.",
                cell,
                section.id,
            )


CHECKS: tuple[Check, ...] = (
    check_label_definitions,
    check_question_descriptions,
    check_example_answers,
    check_duplicate_ids,
    check_internal_links,
    check_image_alt_text,
    check_example_records,
    check_label_references,
    check_label_examples,
    check_label_boundaries,
    check_long_sections,
    check_todo_markers,
    check_rating_anchors,
    check_vague_wording,
)
"""Every check, in the order of its codes."""
