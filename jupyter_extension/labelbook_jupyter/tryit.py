"""`TryIt`: the researcher answers a few items as a contractor would, timed, checked against gold.

`Trial` is the plain-Python session (which items, in which order, the answers, the time each took,
the gold checks); `TryIt` lays it out with the same record markup and controls as `Preview`.
"""

from __future__ import annotations

import html
import math
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from labelbook.errors import LabelbookError, TaskError
from labelbook.task import MultiLabelQuestion, Task, TextQuestion
from labelbook_jupyter._html import STYLE, describe, message
from labelbook_jupyter.controls import Questions
from labelbook_jupyter.preview import record_header
from labelbook_jupyter.sources import (
    Gold,
    Record,
    Source,
    load_gold,
    load_records,
    open_source,
    researcher,
    worked_gold,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result", "Trial", "TryIt"]


@dataclass(frozen=True)
class Result:
    """One item answered (or skipped) by the researcher."""

    record_id: str
    """The record's id."""
    answers: Mapping[str, Any]
    """Question name → answer (empty when skipped)."""
    status: str
    """"submitted", or "discarded" for a skipped item (as Argilla calls it)."""
    seconds: float
    """Time from the item being shown to the submit or skip."""
    at: datetime
    """When it was submitted (UTC)."""
    gold: Gold | None = None
    """The expert answers, when the item is a gold item."""
    correct: Mapping[str, bool] = field(default_factory=dict)
    """For a gold item: question → whether the answer matches the expert's (free-text questions left out)."""


def matches(task: Task, question: str, given: Any, expected: Any) -> bool:
    """Whether an answer agrees with the expert's (labels of a multi-label answer in any order)."""
    item = task.question(question)
    if isinstance(item, MultiLabelQuestion):
        return sorted(given or []) == sorted(expected or [])
    if isinstance(given, tuple | list) and isinstance(expected, tuple | list):
        return list(given) == list(expected)
    return bool(given == expected)


def choose_items(
    records: Sequence[Record], gold: Mapping[str, Gold], n: int, shuffle: bool, seed: int | None
) -> list[Record]:
    """The n items to try: shuffled, about a third of them gold items when gold exists; else the first n."""
    if not shuffle:
        return list(records[:n])
    rng = random.Random(seed)
    golden = [r for r in records if r.id in gold]
    others = [r for r in records if r.id not in gold]
    rng.shuffle(golden)
    rng.shuffle(others)
    wanted = min(len(golden), max(1, math.ceil(n / 3))) if golden else 0
    chosen = golden[:wanted] + others[: n - wanted]
    chosen += golden[wanted : wanted + n - len(chosen)]  # too few other records: more gold
    rng.shuffle(chosen)
    return chosen


class Trial:
    """A timed try of the task: items in order, the answers given, the gold checks."""

    def __init__(
        self,
        source: Source,
        items: Sequence[Record],
        gold: Mapping[str, Gold],
        *,
        annotator: str,
        clock: Any = time.perf_counter,
    ) -> None:
        self.source = source
        self.items = list(items)
        self.gold = dict(gold)
        self.annotator = annotator
        self.results: list[Result] = []
        self.index = 0
        self._clock = clock
        self._shown_at = clock()

    @property
    def task(self) -> Task:
        """The task tried."""
        return self.source.task

    @property
    def done(self) -> bool:
        """Whether every item has been answered or skipped."""
        return self.index >= len(self.items)

    @property
    def current(self) -> Record | None:
        """The item to answer now (None when done)."""
        return None if self.done else self.items[self.index]

    @property
    def position(self) -> str:
        """E.g. "3 of 10"."""
        return f"{min(self.index + 1, len(self.items))} of {len(self.items)}"

    def _finish(self, answers: Mapping[str, Any], status: str) -> Result:
        record = self.current
        if record is None:
            raise LabelbookError("every item has been answered: read `.answers`, or start a new TryIt.")
        expected = self.gold.get(record.id)
        correct: dict[str, bool] = {}
        if expected is not None and status == "submitted":
            for question, value in expected.answers.items():
                if isinstance(self.task.question(question), TextQuestion):
                    continue
                correct[question] = matches(self.task, question, answers.get(question), value)
        result = Result(
            record.id,
            dict(answers),
            status,
            self._clock() - self._shown_at,
            datetime.now(timezone.utc),
            expected,
            correct,
        )
        self.results.append(result)
        self.index += 1
        self._shown_at = self._clock()
        return result

    def submit(self, answers: Mapping[str, Any]) -> Result:
        """Record the answers to the current item and move on; TaskError names a missing required answer."""
        missing = [q.name for q in self.task.questions if q.required and q.name not in answers]
        if missing:
            titles = ", ".join(repr(self.task.question(name).title) for name in missing)
            raise TaskError(f"answer {titles} before submitting (required).")
        self.task.validate_answers(answers)
        return self._finish(answers, "submitted")

    def skip(self) -> Result:
        """Move on without answering (recorded as discarded)."""
        return self._finish({}, "discarded")

    def frame(self, version: str | None) -> pd.DataFrame:
        """The answers as the pull's tidy frame (annotator = the researcher), plus `seconds` per item."""
        import labelbook.annotations as tidy

        cols: dict[str, list[Any]] = {name: [] for name in tidy.COLUMNS}
        seconds: list[float] = []
        for result in self.results:
            given = list(result.answers.items()) or [(q.name, None) for q in self.task.questions]
            for question, value in given:
                cols["record_id"].append(result.record_id)
                cols["argilla_record_id"].append(None)
                cols["question"].append(question)
                cols["annotator"].append(self.annotator)
                cols["vendor"].append("")
                cols["value"].append(value)
                cols["status"].append(result.status)
                cols["submitted_at"].append(result.at.isoformat())
                cols["release"].append(version)
                cols["is_gold"].append(result.gold is not None)
                seconds.append(round(result.seconds, 3))
        return tidy.frame(cols, extra={"seconds": seconds})

    def summary(self) -> str:
        """One line: how many answered, the median time, the gold score."""
        answered = [r for r in self.results if r.status == "submitted"]
        text = f"{len(answered)} answered, {len(self.results) - len(answered)} skipped"
        if answered:
            text += f"; median {statistics.median(r.seconds for r in answered):.1f} s per item"
        checks = [ok for r in answered for ok in r.correct.values()]
        if checks:
            text += f"; gold: {sum(checks)} of {len(checks)} answers agree with the experts"
        return text


def _answer(task: Task, question: str, value: Any) -> str:
    from labelbook.render import answer_text

    if value is None:
        return "(no answer)"
    return answer_text(task.question(question), value)


def feedback_html(task: Task, result: Result) -> str:
    """After a gold item: the researcher's answers beside the experts', and the explanation."""
    if result.gold is None:
        return ""
    from labelbook.render import markdown_to_html

    rows = []
    for question, expected in result.gold.answers.items():
        title = html.escape(task.question(question).title)
        mine = html.escape(_answer(task, question, result.answers.get(question)))
        theirs = html.escape(_answer(task, question, expected))
        mark = "" if question not in result.correct else (" ✓" if result.correct[question] else " ✗")
        rows.append(f"<tr><th>{title}</th><td>{mine}</td><td><b>{theirs}</b>{mark}</td></tr>")
    right = all(result.correct.values()) if result.correct else True
    explanation = (
        f'<div class="lb-explanation"><b>Why:</b> {markdown_to_html(result.gold.explanation)}</div>'
        if result.gold.explanation
        else ""
    )
    verdict = "You agree with the experts." if right else "The experts answered differently."
    return (
        f'<div class="lb-feedback {"right" if right else "wrong"}" role="status">'
        f"<p><b>Gold item <code>{html.escape(result.record_id)}</code></b>: {verdict}</p>"
        '<table class="lb-table"><tr><th>Question</th><th>You</th><th>Gold answer</th></tr>'
        f"{''.join(rows)}</table>"
        f"{explanation}</div>"
    )


class TryIt(w.VBox):
    """Answer n items as a contractor would: the same record markup and controls as `Preview`, the
    time per item, and after each gold item the experts' answer with its explanation.

    records: a DataFrame, a list of dicts or a file (None: the guide's worked examples, which are then
    the gold). gold: `project.gold()`'s frame or a gold file (id and a column per question, optional
    `explanation`). `.answers` is the pull's tidy frame; `.send(project)` submits them to Argilla.
    `.choose(question, value)`, `.submit()` and `.skip()` do what the buttons do.
    """

    def __init__(
        self,
        source: object,
        records: object = None,
        n: int = 10,
        gold: object = None,
        shuffle: bool = True,
        *,
        seed: int | None = None,
        annotator: str | None = None,
    ) -> None:
        super().__init__()
        self.add_class("lb-widget")
        self.error = ""
        """The last problem shown ("" when none)."""
        self.trial: Trial | None = None
        self.source: Source | None = None
        self.title = w.HTML()
        self.message = w.HTML()
        self.feedback = w.HTML()
        self.record = w.HTML()
        self.position = w.Label()
        self.submit_button = w.Button(description="Submit", button_style="primary", icon="check")
        self.skip_button = w.Button(description="Skip", icon="forward")
        self.submit_button.on_click(lambda _: self.submit())
        self.skip_button.on_click(lambda _: self.skip())
        self.table = w.HTML()
        self.questions: Questions | None = None
        try:
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise LabelbookError(f"n must be a whole number of items to try, at least 1; got {n!r}.")
            self.source = open_source(source)
            rows = load_records(self.source, records)
            answers = load_gold(self.source.task, gold) if gold is not None else {}
            if records is None and gold is None:
                answers = worked_gold(rows)
            items = choose_items(rows, answers, n, shuffle, seed)
            self.trial = Trial(self.source, items, answers, annotator=annotator or researcher())
        except Exception as err:
            self._show_error(describe(err))
            self.children = [w.HTML(STYLE), self.message]
            return
        self.questions = Questions(self.source.task, on_change=lambda *_: self._show_error(""))
        self.title.value = STYLE + (
            f'<div class="lb-header">Try it: {html.escape(self.source.title)} '
            f'<span class="muted">· {len(self.trial.items)} items, '
            f"{sum(1 for r in self.trial.items if r.id in self.trial.gold)} with gold answers</span></div>"
        )
        self.form = w.VBox(
            [
                w.HTML('<div class="lb-header">Questions</div>'),
                self.questions.widget,
                w.HBox([self.submit_button, self.skip_button], layout=w.Layout(grid_gap="12px")),
            ]
        )
        self.children = [
            self.title,
            self.feedback,
            self.message,
            self.position,
            self.record,
            self.form,
            self.table,
        ]
        self._show()

    def _show_error(self, text: str) -> None:
        self.error = text
        self.message.value = message(text)

    def _show(self) -> None:
        assert self.trial is not None and self.questions is not None and self.source is not None
        record = self.trial.current
        if record is None:
            self.position.value = ""
            self.record.value = message(f"Done: {self.trial.summary()}. `.answers` holds them.", "info")
            self.form.layout.display = "none"
            self.submit_button.disabled = self.skip_button.disabled = True
            self.table.value = self._answers_table()
            return
        self.position.value = f"Item {self.trial.position}"
        try:
            body = self.source.record_html(record.fields)
        except Exception as err:
            body = message(describe(err))
        warning = message(record.problem, "warning") if record.problem else ""
        self.record.value = record_header(Record(record.id, record.fields)) + warning + body
        self.questions.reset(record.fields)

    def _answers_table(self) -> str:
        frame = self.answers
        if frame.empty:
            return ""
        shown = frame[["record_id", "question", "value", "status", "is_gold", "seconds"]]
        return shown.to_html(index=False, classes="lb-table", border=0)

    def choose(self, question: str, value: Any) -> TryIt:
        """Answer a question of the current item, as clicking does; a wrong value shows a message."""
        if self.questions is None:
            return self
        try:
            self.questions.choose(question, value)
            self._show_error("")
        except LabelbookError as err:
            self._show_error(describe(err))
        return self

    def submit(self) -> TryIt:
        """Submit the current item's answers and show the next item (and the gold answer, if any)."""
        if self.trial is None or self.questions is None:
            return self
        if self.questions.problem:
            self._show_error(self.questions.problem)
            return self
        try:
            result = self.trial.submit(dict(self.questions.form.values))
        except LabelbookError as err:
            self._show_error(describe(err))
            return self
        self._show_error("")
        self.feedback.value = feedback_html(self.trial.task, result)
        self._show()
        return self

    def skip(self) -> TryIt:
        """Skip the current item."""
        if self.trial is None or self.trial.done:
            return self
        self.trial.skip()
        self._show_error("")
        self.feedback.value = ""
        self._show()
        return self

    @property
    def version(self) -> str:
        """The guide's version the answers are attributed to ("working" when not released as is)."""
        return (self.source.version if self.source else None) or "working"

    @property
    def answers(self) -> pd.DataFrame:
        """The tidy frame of the answers so far (the pull's columns and `seconds`)."""
        if self.trial is None:
            import labelbook.annotations as tidy

            return tidy.frame({name: [] for name in tidy.COLUMNS if name != "release"})
        return self.trial.frame(self.version)

    def send(self, project: object) -> int:
        """Submit the answers as your own responses in the project's dataset; the number of records sent.

        project: a `Project` or the guide notebook's path (`Project.open`). Problems show in the widget
        and the count is 0.
        """
        try:
            from labelbook.argilla import Project
            from labelbook.argilla.responses import submit

            if isinstance(project, Project):
                sent = submit(project, self.answers)
            else:
                with Project.open(project) as opened:  # type: ignore[arg-type]
                    sent = submit(opened, self.answers)
        except Exception as err:
            self._show_error(describe(err))
            return 0
        self.message.value = message(f"Sent {sent} response(s) to Argilla as your own.", "info")
        return sent
