"""Every question's controls, with each label's definition beside it, over a plain answer form.

`AnswerForm` holds the answers and checks them against the task (no widgets: tests and the
scriptable `TryIt.choose` drive it directly). `Questions` lays out one control per question in
task order (standard ipywidgets only) and keeps the form and the controls in step both ways.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from labelbook.errors import TaskError
from labelbook.task import (
    LabelQuestion,
    MultiLabelQuestion,
    Question,
    RankingQuestion,
    RatingQuestion,
    SpanQuestion,
    Task,
    TextQuestion,
)

__all__ = ["AnswerForm", "Questions"]


class AnswerForm:
    """The answers given so far to one record, each checked against its question."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.values: dict[str, Any] = {}
        """Question name → answer, for the questions answered so far."""

    def choose(self, question: str, value: Any) -> Any:
        """Answer `question` (a label of a multi-label question is toggled, as clicking it does); returns
        the question's answer now. TaskError names the allowed values when `value` is not one of them."""
        item = self.task.question(question)
        if isinstance(item, MultiLabelQuestion) and isinstance(value, str):
            current = list(self.values.get(question) or [])
            item.validate_value([value])
            current = [v for v in current if v != value] if value in current else [*current, value]
            value = [label for label in item.labels if label in current]
        if value is None or value == [] or value == "":
            self.values.pop(question, None)
            return None
        if isinstance(item, RatingQuestion) and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        item.validate_value(value)
        self.values[question] = value
        return value

    def clear(self) -> None:
        """Forget every answer (a new record)."""
        self.values.clear()

    def missing(self) -> list[str]:
        """Required questions not answered yet, in task order."""
        return [q.name for q in self.task.questions if q.required and q.name not in self.values]


@functools.lru_cache(maxsize=1024)
def _definition_html(text: str) -> str:
    from labelbook.render import markdown_to_html

    return markdown_to_html(text) if text else '<em class="muted">No definition yet.</em>'


class _Control:
    """One question's widgets; `show(value)` updates them without reporting a change."""

    def __init__(self, question: Question, changed: Callable[[str, Any], None]) -> None:
        self.question = question
        self._changed = changed
        self._quiet = False
        help_text = question.description.strip()
        optional = "" if question.required else ' <span class="muted">(optional)</span>'
        self.header = w.HTML(
            f'<div class="lb-question-title">{html.escape(question.title)}{optional}</div>'
            + (f'<div class="lb-question-help">{_definition_html(help_text)}</div>' if help_text else "")
        )
        self.widget: w.Widget = w.VBox([self.header], layout=w.Layout(margin="0 0 8px 0"))
        self.widget.add_class(f"lb-question-{question.name}")

    def _report(self, value: Any) -> None:
        if not self._quiet:
            self._changed(self.question.name, value)

    def show(self, value: Any) -> None:
        raise NotImplementedError

    def set_record(self, fields: Mapping[str, Any]) -> None:
        """The record now shown (span questions mark its text)."""


class _Choices(_Control):
    """Labels or scale values as toggle buttons, each with its definition beside it."""

    def __init__(self, question: Question, changed: Callable[[str, Any], None]) -> None:
        super().__init__(question, changed)
        self.multiple = isinstance(question, MultiLabelQuestion)
        meanings: dict[Any, str] = dict(question.meanings())
        options: list[Any] = list(meanings)
        if isinstance(question, RatingQuestion):
            options = list(question.values)
            meanings = {int(k): v for k, v in meanings.items()}
        self.options = options
        self.buttons: dict[Any, w.ToggleButton] = {}
        rows = []
        for option in options:
            button = w.ToggleButton(
                description=str(option),
                tooltip=f"{option}: {meanings.get(option, '')}"[:200],
                layout=w.Layout(width="auto", min_width="7em", flex="0 0 auto"),
            )
            button.observe(functools.partial(self._toggled, option), names="value")
            self.buttons[option] = button
            row: list[w.Widget] = [button]
            if meanings:
                text = meanings.get(option, "")
                row.append(w.HTML(f'<div class="definition">{_definition_html(text)}</div>'))
            rows.append(w.HBox(row, layout=w.Layout(align_items="center", grid_gap="10px")))
        layout = w.Layout(flex_flow="column" if meanings else "row wrap", grid_gap="4px")
        self.widget.children = (self.header, w.Box(rows, layout=layout))

    def _toggled(self, option: Any, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if self.multiple:
            chosen = [o for o in self.options if self.buttons[o].value]
            self.show(chosen)
            self._report(chosen or None)
            return
        self.show(option if change["new"] else None)
        self._report(option if change["new"] else None)

    def show(self, value: Any) -> None:
        chosen = set(value or []) if self.multiple else {value}
        self._quiet = True
        try:
            for option, button in self.buttons.items():
                button.value = option in chosen
                button.button_style = "info" if option in chosen else ""
        finally:
            self._quiet = False


class _Ranking(_Control):
    """A rank (1 = best) for every option, with its definition beside it."""

    def __init__(self, question: RankingQuestion, changed: Callable[[str, Any], None]) -> None:
        super().__init__(question, changed)
        self.options = list(question.values)
        ranks = [("–", 0)] + [(str(i), i) for i in range(1, len(self.options) + 1)]
        self.ranks: dict[str, w.Dropdown] = {}
        rows = []
        for option in self.options:
            menu = w.Dropdown(options=ranks, value=0, description=option, layout=w.Layout(width="16em"))
            menu.observe(self._ranked, names="value")
            self.ranks[option] = menu
            text = question.values[option]
            rows.append(w.HBox([menu, w.HTML(f'<div class="definition">{_definition_html(text)}</div>')]))
        self.widget.children = (self.header, *rows)

    def _ranked(self, change: dict[str, Any]) -> None:
        given = {option: menu.value for option, menu in self.ranks.items()}
        if sorted(given.values()) == list(range(1, len(self.options) + 1)):
            self._report(sorted(self.options, key=lambda o: given[o]))
        else:
            self._report(None)

    def show(self, value: Any) -> None:
        order = list(value or [])
        self._quiet = True
        try:
            for option, menu in self.ranks.items():
                menu.value = order.index(option) + 1 if option in order else 0
        finally:
            self._quiet = False


class _Text(_Control):
    def __init__(self, question: TextQuestion, changed: Callable[[str, Any], None]) -> None:
        super().__init__(question, changed)
        self.box = w.Textarea(placeholder=question.title, layout=w.Layout(width="100%", height="4.5em"))
        self.box.observe(lambda change: self._report(change["new"] or None), names="value")
        self.widget.children = (self.header, self.box)

    def show(self, value: Any) -> None:
        self._quiet = True
        try:
            self.box.value = value or ""
        finally:
            self._quiet = False


class _Spans(_Control):
    """Spans of a text field: pick a label, type the exact text, add; the offsets are found for you."""

    def __init__(self, question: SpanQuestion, changed: Callable[[str, Any], None]) -> None:
        super().__init__(question, changed)
        self.field = question.field
        self.text = ""
        self.spans: list[dict[str, Any]] = []
        self.label = w.Dropdown(options=list(question.labels), layout=w.Layout(width="12em"))
        self.phrase = w.Text(placeholder=f"exact text from {question.field}", layout=w.Layout(width="24em"))
        self.add = w.Button(description="Add span")
        self.clear = w.Button(description="Clear spans")
        self.listing = w.HTML()
        self.add.on_click(lambda _: self._add())
        self.clear.on_click(lambda _: self._set([]))
        definitions = "".join(
            f"<dt><b>{html.escape(name)}</b></dt><dd class='definition'>{_definition_html(text)}</dd>"
            for name, text in question.labels.items()
        )
        self.widget.children = (
            self.header,
            w.HTML(f"<dl>{definitions}</dl>"),
            w.HBox([self.label, self.phrase, self.add, self.clear]),
            self.listing,
        )

    def set_record(self, fields: Mapping[str, Any]) -> None:
        value = fields.get(self.field)
        self.text = value if isinstance(value, str) else ""

    def _add(self) -> None:
        phrase = self.phrase.value
        start = self.text.find(phrase) if phrase else -1
        if start < 0:
            self.listing.value = (
                f'<p class="lb-message lb-warning">{html.escape(repr(phrase))} is not in the text.</p>'
                + self._listing()
            )
            return
        span = {"start": start, "end": start + len(phrase), "label": self.label.value}
        self._set([*self.spans, span])

    def _set(self, spans: list[dict[str, Any]]) -> None:
        self.show(spans)
        self._report(spans or None)

    def _listing(self) -> str:
        items = "".join(
            f"<li><b>{html.escape(s['label'])}</b>: {html.escape(self.text[s['start'] : s['end']])} "
            f"<span class='muted'>[{s['start']}:{s['end']}]</span></li>"
            for s in self.spans
        )
        return f"<ul>{items}</ul>" if items else ""

    def show(self, value: Any) -> None:
        self.spans = [dict(s) for s in (value or [])]
        self.listing.value = self._listing()


def _control(question: Question, changed: Callable[[str, Any], None]) -> _Control:
    if isinstance(question, LabelQuestion | MultiLabelQuestion | RatingQuestion):
        return _Choices(question, changed)
    if isinstance(question, RankingQuestion):
        return _Ranking(question, changed)
    if isinstance(question, SpanQuestion):
        return _Spans(question, changed)
    return _Text(question, changed)


class Questions:
    """Every question of a task as controls, kept in step with an `AnswerForm`."""

    def __init__(self, task: Task, on_change: Callable[[str, Any], None] | None = None) -> None:
        self.form = AnswerForm(task)
        self._on_change = on_change
        self.controls = {q.name: _control(q, self._changed) for q in task.questions}
        self.problem = ""
        """Why the last answer was refused ("" when it was not)."""
        self.widget = w.VBox([c.widget for c in self.controls.values()])

    def _changed(self, question: str, value: Any) -> None:
        try:
            self.form.choose(question, value) if value is not None else self.form.values.pop(question, None)
            self.problem = ""
        except TaskError as err:
            self.problem = str(err)
        if self._on_change is not None:
            self._on_change(question, value)

    def choose(self, question: str, value: Any) -> Any:
        """Answer as a click would; TaskError when the question or the value is unknown."""
        value = self.form.choose(question, value)
        self.controls[question].show(value)
        self.problem = ""
        return value

    def reset(self, fields: Mapping[str, Any], answers: Mapping[str, Any] | None = None) -> None:
        """A new record: controls cleared (or set to `answers`)."""
        self.form.clear()
        self.problem = ""
        for name, control in self.controls.items():
            control.set_record(fields)
            value = (answers or {}).get(name)
            if value is not None:
                self.form.values[name] = value
            control.show(value)
