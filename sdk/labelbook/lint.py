"""Clarity checks on a Guide: what would confuse a contractor, found before anyone is paid to read it.

`lint(guide)` (also `Guide.lint()`) runs every check in `CHECKS` and returns `Finding`s sorted by
cell. `lint_path(path)` loads the notebook first and turns a missing or failing task cell into
a finding (LB104) instead of an exception, so `labelbook lint` can report it like any other.

Severity follows the consequence for a contractor: an *error* only where they cannot answer
correctly (a label with no definition, a label referenced that does not exist, a broken link or
citation, a worked example whose answer or record is not valid, no task); a *warning* where the
guide is probably unclear or incomplete (a question without a description, a rating scale without
meanings, an image without alt text, a boundary never discussed); a *hint* for wording. Only errors
block `labelbook release`; `labelbook build` writes its documents whatever the findings.
Codes are stable and grouped by subject: LB1xx the task and the document's structure, LB2xx
clarity, LB3xx wording. `CODES` maps each code to its severity and a one-line summary;
docs/authoring.md has the table.

Labels are found in prose on the parsed markdown, with their own spelling and a context that
makes them a label: a code span (`a`), bold or italics (**a**), quotes ("a"), or the word label
next to it ("label b", "the tie label"; not for a label spelled like an article, since "label a
record" and "pick a label" use the article). A bare word counts only for a label that is neither a
single letter nor a common English word (`COMMON_WORDS`), so the article "a" never names label `a`.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from labelbook.errors import NotebookError, TaskError
from labelbook.guide import Guide, Markdown, Section, WorkedExample
from labelbook.task import LabelQuestion, MultiLabelQuestion, RatingQuestion, SpanQuestion, TextQuestion

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = [
    "CHECKS",
    "CODES",
    "COMMON_WORDS",
    "LONG_SECTION_WORDS",
    "VAGUE_PHRASES",
    "Finding",
    "Severity",
    "count",
    "lint",
    "lint_path",
]

Severity: TypeAlias = Literal["error", "warning", "hint"]

LONG_SECTION_WORDS = 800
"""A section longer than this (in words of prose) gets LB203: split it, or it will be skimmed."""

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

COMMON_WORDS = frozenset(
    {
        "a", "an", "the", "this", "that", "these", "those", "each", "every", "any", "some", "no",
        "none", "not", "nor", "yes", "or", "and", "but", "if", "so", "as", "at", "by", "for", "from",
        "in", "into", "of", "off", "on", "onto", "out", "over", "to", "up", "with", "it", "its", "is",
        "are", "be", "was", "do", "does", "did", "can", "may", "must", "should", "will", "would", "one",
        "two", "all", "both", "either", "neither", "other", "same", "more", "less", "very", "too",
        "also", "only", "just", "good", "bad", "fine", "ok", "okay", "maybe", "unsure", "unclear",
        "unknown",
    }
)  # fmt: skip
"""Labels spelled like these (and single letters) count as named only when marked or next to "label"."""

_ARTICLES = frozenset({"a", "an", "the", "this", "that", "each", "every", "any", "some", "no", "one"})
# "label a record ..." and "pick a label" use the article: for these labels, "label X" is not enough.

CODES: dict[str, tuple[Severity, str]] = {
    "LB101": ("error", "label without a definition"),
    "LB102": ("warning", "question without a description"),
    "LB103": ("error", "worked example with an invalid answer"),
    "LB104": ("error", "missing or failing task cell"),
    "LB105": ("error", "duplicate id (section, rule or example)"),
    "LB106": ("error", "broken internal link or rule citation"),
    "LB107": ("warning", "image without alt text"),
    "LB108": ("error", "worked example with an invalid record"),
    "LB109": ("error", "reference to a label that does not exist"),
    "LB201": ("warning", "label without a worked example"),
    "LB202": ("warning", "two labels never discussed in the same section"),
    "LB203": ("warning", f"section longer than {LONG_SECTION_WORDS} words"),
    "LB204": ("warning", "TODO, TBD or FIXME marker"),
    "LB205": ("warning", "rating scale whose ends have no meaning"),
    "LB301": ("hint", "vague wording"),
}
"""Every code: its severity and what it means."""

_SEVERITY_ORDER = {"error": 0, "warning": 1, "hint": 2}


@dataclass(frozen=True)
class Finding:
    """One problem the lint found, with where it is and how to fix it."""

    code: str
    """Stable code, e.g. "LB101" (see `CODES`)."""
    severity: Severity
    """"error" (a contractor cannot answer correctly: blocks a release), "warning" (should fix) or "hint"."""
    message: str
    """What is wrong, naming the label, question, id or phrase."""
    fix: str
    """What to change."""
    cell: int | None = None
    """1-based notebook cell number, when the problem sits in one cell."""
    section: str | None = None
    """Id of the section involved, if any."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (for `labelbook lint --json`)."""
        return asdict(self)

    def location(self) -> str:
        """ "cell 4, section partial", as a person would say it."""
        parts = [f"cell {self.cell}" if self.cell else "", f"section {self.section}" if self.section else ""]
        return ", ".join(p for p in parts if p) or "notebook"

    def __str__(self) -> str:
        return f"{self.location()}: {self.code} {self.severity}: {self.message} Fix: {self.fix}"


def _finding(
    code: str, message: str, fix: str, cell: int | None = None, section: str | None = None
) -> Finding:
    return Finding(code, CODES[code][0], message, fix, cell, section)


Check: TypeAlias = Callable[[Guide], Iterator[Finding]]


# ---------------------------------------------------------------------------------------------
# Text helpers


def _section_texts(section: Section, free_text: set[str]) -> list[str]:
    """Every markdown text a contractor reads in a section: title, prose, worked examples' titles,
    explanations and answers to the `free_text` questions (a rationale)."""
    texts = [section.title]
    for block in section.blocks:
        if isinstance(block, Markdown):
            texts.append(block.text)
        elif isinstance(block, WorkedExample):
            texts += [block.title, block.explanation]
            texts += [v for k, v in block.answers.items() if k in free_text and isinstance(v, str)]
    return [text for text in texts if text]


def _prose_blocks(guide: Guide) -> Iterator[tuple[Section, int, str]]:
    """(section, cell, markdown) for every piece of researcher-written prose."""
    for section in guide.sections:
        if section.title:
            yield section, section.cell, section.title
        for block in section.blocks:
            if isinstance(block, Markdown):
                yield section, block.cell, block.text
            elif isinstance(block, WorkedExample) and block.explanation:
                yield section, block.cell, block.explanation


@dataclass(frozen=True)
class _Words:
    """A markdown text split by how each piece names things, for finding label mentions."""

    marked: tuple[str, ...]
    """Code spans, bold or italic runs and quoted phrases: what the writer set apart as a name."""
    plain: str
    """The remaining prose, set-apart pieces replaced by a NUL so words never join across them."""
    referenced: tuple[str, ...]
    """Code spans and quoted phrases right after or before the word "label" ("label `x`", "`x` label")."""


_LABEL_WORD_BEFORE = re.compile(r"\blabels?\s*$", re.I)
_LABEL_WORD_AFTER = re.compile(r"^\s*labels?\b", re.I)
_QUOTED = re.compile(
    r"""["\u201c]([^"\u201c\u201d\n]{1,80})["\u201d]|(?<![\w'])['\u2018]([^'\u2018\u2019\n]{1,80})['\u2019](?!\w)"""
)


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> _Words:
    pieces: list[tuple[str, str]] = []  # ("code" | "marked" | "text", content)
    for block in _parsed(text):
        if block.type != "inline" or not block.children:
            continue
        emphasis = 0
        for token in block.children:
            if token.type in ("strong_open", "em_open"):
                emphasis += 1
            elif token.type in ("strong_close", "em_close"):
                emphasis = max(0, emphasis - 1)
            elif token.type == "code_inline":
                pieces.append(("code", token.content))
            elif token.type == "text":
                pieces.append(("marked" if emphasis else "text", token.content))
            elif token.type in ("softbreak", "hardbreak"):
                pieces.append(("text", " "))
        pieces.append(("text", "\n"))
    marked: list[str] = []
    referenced: list[str] = []
    plain: list[str] = []
    for index, (kind, content) in enumerate(pieces):
        if kind == "text":
            for match in _QUOTED.finditer(content):
                quoted = match.group(1) or match.group(2)
                marked.append(quoted)
                after = content[match.end() :]
                if _LABEL_WORD_BEFORE.search(content[: match.start()]) or _LABEL_WORD_AFTER.match(after):
                    referenced.append(quoted)
            plain.append(content)
            continue
        marked.append(content)
        plain.append("\0")
        if kind == "code":
            before = pieces[index - 1][1] if index else ""
            after = pieces[index + 1][1] if index + 1 < len(pieces) else ""
            if _LABEL_WORD_BEFORE.search(before) or _LABEL_WORD_AFTER.match(after):
                referenced.append(content)
    return _Words(tuple(marked), "".join(plain), tuple(referenced))


def _normal(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip()).casefold()


def _same_name(found: str, label: str) -> bool:
    """Whether a set-apart piece is the label: exact for one letter, else ignoring case, _, - and space."""
    return found.strip() == label if len(label) == 1 else _normal(found) == _normal(label)


def _ambiguous(label: str) -> bool:
    """A label that reads as an ordinary word when it is not marked: a single letter or a common word."""
    return len(label) == 1 or _normal(label) in COMMON_WORDS


def _spelled(label: str) -> str:
    """A regex for the label as a whole word, `_`, `-` and a space interchangeable."""
    return "[_ -]".join(re.escape(part) for part in re.split(r"[_\s-]+", label))


def _mentions(text: str, label: str) -> bool:
    """Whether the text names the label (see the module docstring for what counts)."""
    words = _words(text)
    if any(_same_name(piece, label) for piece in words.marked):
        return True
    flags = 0 if len(label) == 1 else re.I
    name = r"(?<![\w-])" + _spelled(label) + r"(?![\w-])"
    if not _ambiguous(label):
        return re.search(name, "\0".join((words.plain, *words.marked)), flags) is not None
    if _normal(label) in _ARTICLES:
        return False
    return re.search(rf"\blabels?\s+{name}|{name}\s+labels?\b", words.plain, flags) is not None


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[Token, ...]:
    """A markdown text's block tokens, parsed once per text for every check."""
    from labelbook.render import _source_parser

    return tuple(_source_parser().parse(text))


@functools.lru_cache(maxsize=4096)
def _inline_tokens(text: str) -> tuple[Token, ...]:
    """Every inline token of a markdown text (links, images, raw HTML)."""
    found: list[Token] = []
    for token in _parsed(text):
        if token.type == "inline" and token.children:
            found += _walk(token.children)
    return tuple(found)


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


# ---------------------------------------------------------------------------------------------
# Errors


def check_label_definitions(guide: Guide) -> Iterator[Finding]:
    """LB101: every label (and ranking option) has a definition; they become the glossary."""
    for question in guide.task.questions:
        for attr in question.definition_maps:
            for name, definition in getattr(question, attr).items():
                if not definition.strip():
                    yield _finding(
                        "LB101",
                        f"label {name!r} of question {question.name!r} has no definition.",
                        f"Define it in the task cell: {attr}={{{name!r}: 'what makes an item {name}', ...}}.",
                        guide.task_cell,
                    )


def check_question_descriptions(guide: Guide) -> Iterator[Finding]:
    """LB102: every question says what to judge (shown beside it in Argilla)."""
    for question in guide.task.questions:
        if not question.description.strip():
            yield _finding(
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
                yield _finding(
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
            yield _finding(
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
        yield _finding(
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
_RULE_CITATION = re.compile(r"\[(R(?:-|\d)[A-Za-z0-9_.-]*)\]")


def check_internal_links(guide: Guide) -> Iterator[Finding]:
    """LB106: `#id` links point at a section, rule or example; `[R-id]` citations name a rule."""
    anchors = _anchors(guide)
    rules = {r.id for r in guide.rules}
    for section, cell, text in _prose_blocks(guide):
        targets: list[str] = []
        for token in _inline_tokens(text):
            href = token.attrGet("href") if token.type == "link_open" else None
            if isinstance(href, str) and href.startswith("#"):
                targets.append(href[1:])
            elif token.type == "html_inline":
                targets += _RAW_HREF.findall(token.content)
        targets += [m for m in _RAW_HREF.findall(text) if m not in targets]
        for target in dict.fromkeys(targets):
            if target not in anchors:
                yield _finding(
                    "LB106",
                    f"link to #{target} goes nowhere: no section, rule or example has that id.",
                    "Link to an existing id (a heading's slug or its {#id}), or add that {#id} to a heading.",
                    cell,
                    section.id,
                )
        for rule_id in dict.fromkeys(_RULE_CITATION.findall(text)):
            if rule_id not in rules:
                yield _finding(
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
    return {_normal(name) for name in names}


def check_label_references(guide: Guide) -> Iterator[Finding]:
    """LB109: a label named as one ("label `x`", "the "x" label") exists in the task."""
    known = _known_names(guide)
    labels = list(dict.fromkeys(label for q in _labelled(guide) for label in q.labels))
    places: list[tuple[str | None, int, str]] = [(s.id, cell, text) for s, cell, text in _prose_blocks(guide)]
    for question in guide.task.questions:  # descriptions and definitions are read by contractors too
        places += [
            (None, guide.task_cell, text) for text in (question.description, *question.meanings().values())
        ]
    for section_id, cell, text in places:
        for name in dict.fromkeys(_words(text).referenced if text else ()):
            if not name.strip() or _normal(name) in known:
                continue
            close = difflib.get_close_matches(name, labels, n=1)
            hint = f"Did you mean `{close[0]}`? " if close else ""
            yield _finding(
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
    for section, cell, text in _prose_blocks(guide):
        missing = sum(1 for t in _inline_tokens(text) if t.type == "image" and not t.content.strip())
        missing += sum(1 for tag in _RAW_IMG.findall(text) if not _ALT.search(tag))
        if missing:
            yield _finding("LB107", f"{missing} image(s) without alt text.", fix, cell, section.id)
    for section in guide.sections:
        for output in section.outputs:
            if output.kind == "image" and not output.alt.strip():
                yield _finding(
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
                yield _finding(
                    "LB201",
                    f"label {label!r} of question {question.name!r} has no worked example.",
                    f"Add a labelbook:example cell whose answers give {question.name!r}: {label!r}, "
                    "in the section that explains the label.",
                    guide.task_cell,
                )


def check_label_boundaries(guide: Guide) -> Iterator[Finding]:
    """LB202: for each pair of labels of a question, some section names both (says where one ends)."""
    free_text = {q.name for q in guide.task.questions if isinstance(q, TextQuestion)}
    sections = [_section_texts(section, free_text) for section in guide.sections]
    for question in _labelled(guide):
        if isinstance(question, SpanQuestion):
            continue
        named = [{label for label in question.labels if any(_mentions(t, label) for t in texts)}
                 for texts in sections]  # fmt: skip
        for first, second in itertools.combinations(question.labels, 2):
            if not any(first in names and second in names for names in named):
                yield _finding(
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
            yield _finding(
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
            yield _finding(
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
    for section, cell, text in _prose_blocks(guide):
        for marker in dict.fromkeys(_TODO.findall(text)):
            yield _finding(
                "LB204",
                f"{marker} marker in the text contractors will read.",
                "Finish the text, or move the note to a cell tagged labelbook:hide.",
                cell,
                section.id,
            )
    task_text = [q.description for q in guide.task.questions]
    task_text += [d for q in guide.task.questions for d in q.meanings().values()]
    for marker in dict.fromkeys(m for text in task_text for m in _TODO.findall(text)):
        yield _finding(
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
    for section, cell, text in _prose_blocks(guide):
        prose = re.sub(r"`[^`]*`", "", text)
        found = [" ".join(m.split()).lower() for m in _VAGUE.findall(prose)]
        for phrase in dict.fromkeys(found):
            yield _finding(
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


def lint(guide: Guide) -> list[Finding]:
    """Run every check; findings sorted by severity, then cell."""
    findings = [finding for check in CHECKS for finding in check(guide)]
    return sorted(findings, key=lambda f: (_SEVERITY_ORDER[f.severity], f.cell or 0, f.code))


def lint_path(path: str | os.PathLike[str]) -> tuple[Guide | None, list[Finding]]:
    """Load a notebook and lint it; a missing or failing task cell is a finding (LB104), not an exception.

    The guide is None then: nothing else can be checked (`labelbook lint` exits 2, as `build` does).
    Any other NotebookError (unreadable file, failing example cell...) is raised: the input is unusable.
    """
    from labelbook import notebook

    nb, resources = notebook.read(path)
    for step in notebook.PREPROCESSORS:
        try:
            nb, resources = step(nb, resources)
        except NotebookError as err:
            if step is not notebook.run_task_cell:
                raise
            fix = err.fix or (
                f"Tag one code cell {notebook.TASK_TAG!r} and make it bind `task = lb.Task(...)`; it must "
                "run on its own, without a kernel."
            )
            return None, [_finding("LB104", err.problem, fix, err.cell)]
    guide = notebook.build_guide(nb, resources)
    return guide, lint(guide)


def count(findings: list[Finding]) -> Counter[str]:
    """How many findings of each severity."""
    return Counter(f.severity for f in findings)
