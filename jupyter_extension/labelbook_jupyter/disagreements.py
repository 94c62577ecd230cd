"""`Disagreements`: contested records one at a time, beside the guideline text that should settle them.

`cases` turns a quality report (and the guide, when known) into `Case`s: the answers side by side
with their rationales, the labels' definitions, the sections and rules that contrast the labels
given (the report's mapping), the record itself and a link to the dataset in Argilla.
"""

from __future__ import annotations

import contextlib
import html
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from labelbook.errors import LabelbookError
from labelbook_jupyter._html import STYLE, describe, message
from labelbook_jupyter.preview import Pager

if TYPE_CHECKING:
    from labelbook.guide import Guide
    from labelbook.quality import Report

__all__ = ["Case", "Disagreements", "cases"]


@dataclass
class Case:
    """One contested record and question, with what the guidelines say about the labels given."""

    record_id: str
    """The record's id."""
    question: str
    """The question the answers differ on."""
    disagreement: float
    """1 - the top answer's share."""
    answers: list[dict[str, Any]]
    """Each: annotator, vendor, value, rationale."""
    definitions: dict[str, str] = field(default_factory=dict)
    """Each label given → its definition."""
    sections: list[tuple[str, str]] = field(default_factory=list)
    """(id, title) of the sections that contrast the labels given, best first."""
    rules: list[tuple[str, str]] = field(default_factory=list)
    """(id, text) of the rules that name two of the labels given."""
    url: str | None = None
    """Where to open it in Argilla."""
    fields: dict[str, Any] = field(default_factory=dict)
    """The record's field values, when pulled with them."""


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def cases(
    report: Report,
    guide: Guide | None = None,
    fields: Mapping[str, Mapping[str, Any]] | None = None,
    url: str | None = None,
) -> list[Case]:
    """The report's contested records as cases, most divergent first."""
    out = []
    confusions = report.confusions
    for row in report.contested.to_dict("records"):
        question = str(row["question"])
        given = list(dict.fromkeys(_hashable(a["value"]) for a in row["answers"] if a["value"] is not None))
        labels = [str(v) for v in given if not isinstance(v, tuple)]
        definitions: dict[str, str] = {}
        sections: list[str] = []
        rules: list[str] = []
        if guide is not None:
            from labelbook.quality.reporting import guide_sections

            try:
                meanings = guide.task.question(question).meanings()
            except LabelbookError:
                meanings = {}
            definitions = {label: meanings.get(label, "") for label in labels if label in meanings}
            for a, b in itertools.combinations(labels, 2):
                found, named, _ = guide_sections(guide, question, a, b)
                sections += [s for s in found[:2] if s not in sections]
                rules += [r for r in named if r not in rules]
        elif len(confusions):
            mine = confusions[confusions["question"] == question]
            for item in mine.to_dict("records"):
                if str(item["label_a"]) in labels and str(item["label_b"]) in labels:
                    sections += [s for s in list(item["sections"])[:2] if s not in sections]
                    rules += [r for r in item["rules"] if r not in rules]
        titles = {s.id: s.title for s in guide.sections} if guide is not None else {}
        texts = {r.id: r.text for r in guide.rules} if guide is not None else {}
        out.append(
            Case(
                record_id=str(row["record_id"]),
                question=question,
                disagreement=float(row["disagreement"]),
                answers=list(row["answers"]),
                definitions=definitions,
                sections=[(s, titles.get(s) or ("Introduction" if s in titles else s)) for s in sections],
                rules=[(r, texts.get(r, "")) for r in rules],
                url=row.get("url") or url,
                fields=dict((fields or {}).get(str(row["record_id"]), {})),
            )
        )
    return out


def case_html(case: Case, guide: Guide | None) -> str:
    """The answers side by side, then what the guidelines say about the labels given."""
    from labelbook.render import markdown_to_html

    title = case.question
    if guide is not None:
        with contextlib.suppress(LabelbookError):
            title = guide.task.question(case.question).title
    answers = "".join(
        f"<tr><td>{html.escape(str(a.get('annotator', '')))}</td>"
        f"<td>{html.escape(str(a.get('vendor') or ''))}</td>"
        f"<td><b>{html.escape(str(a.get('value')))}</b></td>"
        f"<td>{html.escape(str(a.get('rationale') or ''))}</td></tr>"
        for a in case.answers
    )
    parts = [
        f'<div class="lb-header">Record <code>{html.escape(case.record_id)}</code> · '
        f'{html.escape(title)} <span class="muted">· disagreement {case.disagreement:.2f}</span></div>',
        "<table class='lb-table lb-answers'><tr><th>Annotator</th><th>Vendor</th><th>Answer</th>"
        f"<th>Rationale</th></tr>{answers}</table>",
    ]
    if case.definitions:
        items = "".join(
            f"<dt><b>{html.escape(label)}</b></dt><dd class='definition'>{markdown_to_html(text)}</dd>"
            for label, text in case.definitions.items()
        )
        parts.append(f"<p class='lb-question-title'>The labels given, as defined</p><dl>{items}</dl>")
    if case.rules:
        items = "".join(
            f"<li><code>{html.escape(rule_id)}</code> {markdown_to_html(text) if text else ''}</li>"
            for rule_id, text in case.rules
        )
        parts.append(
            f"<p class='lb-question-title'>Rules that should decide it</p><ul class='lb-rules'>{items}</ul>"
        )
    if case.sections:
        items = "".join(
            f"<li><b>{html.escape(title)}</b> <code>#{html.escape(section_id)}</code></li>"
            for section_id, title in case.sections
        )
        parts.append(
            f"<p class='lb-question-title'>Guideline sections</p><ul class='lb-sections'>{items}</ul>"
        )
    elif not case.rules:
        parts.append(
            message(
                "No section of the guidelines contrasts these labels: write one (then release).", "warning"
            )
        )
    if case.url:
        parts.append(
            f'<p><a href="{html.escape(case.url)}" target="_blank" rel="noopener">Open in Argilla</a></p>'
        )
    return "".join(parts)


class Disagreements(w.VBox):
    """Contested records one at a time: the answers with their rationales, the labels' definitions,
    the guideline sections and rules that should settle them, the record, a link to Argilla.

    project_or_report: a `quality.Report` (pass `guide=` for the sections' text), a `Project`, or
    the guide notebook's path (the annotations are pulled and the report made here).
    """

    def __init__(self, project_or_report: object, guide: Guide | None = None, *, top: int = 20) -> None:
        super().__init__()
        self.add_class("lb-widget")
        self.error = ""
        self.guide = guide
        self.report: Report | None = None
        self.cases: list[Case] = []
        self.pager = Pager(0)
        self._source: Any = None
        self.title = w.HTML(STYLE)
        self.message = w.HTML()
        self.case = w.HTML()
        self.record = w.HTML()
        self.record_box = w.Accordion(children=[self.record], selected_index=None)
        self.record_box.set_title(0, "The record")
        self.previous = w.Button(description="Previous", icon="arrow-left")
        self.next = w.Button(description="Next", icon="arrow-right")
        self.position = w.Label()
        self.previous.on_click(lambda _: self.go(self.pager.index - 1))
        self.next.on_click(lambda _: self.go(self.pager.index + 1))
        self.children = [self.title, self.message]
        try:
            self._load(project_or_report, top)
        except Exception as err:
            self.error = describe(err)
            self.message.value = message(self.error)
            return
        self.pager = Pager(len(self.cases))
        heading = self.report.title if self.report is not None else "Disagreements"
        self.title.value = STYLE + (
            f'<div class="lb-header">Disagreements: {html.escape(heading)} '
            f'<span class="muted">· {len(self.cases)} contested records</span></div>'
        )
        if not self.cases:
            self.message.value = message("No contested records: every record's answers agree.", "info")
            return
        self.children = [
            self.title,
            self.message,
            self.case,
            self.record_box,
            w.HBox(
                [self.previous, self.position, self.next],
                layout=w.Layout(align_items="center", grid_gap="12px"),
            ),
        ]
        self.go(0)

    def _load(self, source: object, top: int) -> None:
        from labelbook.quality import Report

        if isinstance(source, Report):
            self.report = source
            self.cases = cases(source, self.guide, url=source.dataset_url)
            return
        import os

        from labelbook.argilla import Project

        if isinstance(source, str | os.PathLike):
            with Project.open(source) as opened:  # pulled once: the connection is not kept
                self._from_project(opened, top)
            return
        if not isinstance(source, Project):
            raise TypeError(
                "Disagreements takes a quality report (`quality.report(...)`), a Project or a guide "
                f"notebook's path, not a {type(source).__name__}."
            )
        self._from_project(source, top)

    def _from_project(self, source: Any, top: int) -> None:
        from labelbook import quality

        if self.guide is None:
            from labelbook.notebook import load

            self.guide = load(source.notebook)
        frame = source.annotations(fields=True)
        gold = source.gold()
        self.report = quality.report(
            frame, guide=self.guide, gold=gold if len(gold) else None, top=top, dataset_url=source.url
        )
        field_columns = [c for c in frame.columns if c.startswith("field.")]
        values = frame.drop_duplicates("record_id").set_index("record_id")[field_columns]
        fields = {
            str(rid): {c.removeprefix("field."): v for c, v in row.items() if v is not None}
            for rid, row in values.iterrows()
        }
        self.cases = cases(self.report, self.guide, fields, url=source.url)

    def go(self, index: int) -> None:
        """Show the contested record at `index` (0-based)."""
        if not self.cases:
            return
        case = self.cases[self.pager.go(index)]
        self.case.value = case_html(case, self.guide)
        self.record.value = self._record_html(case)
        self.position.value = self.pager.position
        self.previous.disabled = self.pager.index == 0
        self.next.disabled = self.pager.index >= self.pager.count - 1

    def _record_html(self, case: Case) -> str:
        if not case.fields or self.guide is None:
            return "<p class='muted'>The record's fields were not pulled.</p>"
        if self._source is None:
            from labelbook_jupyter.sources import open_source

            self._source = open_source(self.guide)
        try:
            return str(self._source.record_html(case.fields))
        except Exception as err:
            return message(describe(err))

    @property
    def current(self) -> Case | None:
        """The case shown."""
        return self.cases[self.pager.index] if self.cases else None

    def labels(self) -> Sequence[str]:
        """The answers shown for the current case."""
        case = self.current
        return [str(a["value"]) for a in case.answers] if case else []
