"""`Preview`: the task exactly as contractors will see it, a record per page, before anything is released."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from labelbook_jupyter._html import STYLE, describe, guide_frame, message
from labelbook_jupyter.controls import Questions
from labelbook_jupyter.sources import Record, Source, load_records, open_source

__all__ = ["Pager", "Preview"]


class Pager:
    """Which of n items is shown (0-based), and the "3 of 30" that says so."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.index = 0

    def go(self, index: int) -> int:
        """Move to `index`, kept within the items; returns where it landed."""
        self.index = max(0, min(index, self.count - 1))
        return self.index

    @property
    def position(self) -> str:
        """E.g. "3 of 30"."""
        return f"{self.index + 1} of {self.count}" if self.count else "0 of 0"


def record_header(record: Record) -> str:
    """The id line above a record (worked examples say so)."""
    kind = "Worked example" if record.answers else "Record"
    return f'<div class="lb-header">{kind} <code>{html.escape(record.id)}</code></div>'


class Preview(w.VBox):
    """The guidelines (collapsible contractor page), one record per page with every question's
    controls and each label's definition, and previous/next navigation.

    source: a guide notebook path, a Guide or a Release. records: a DataFrame, a list of dicts or a
    .jsonl/.csv/.parquet file (default: the guide's worked examples). Problems show inside the widget.
    """

    def __init__(self, source: object, records: object = None) -> None:
        super().__init__()
        self.add_class("lb-widget")
        self.source: Source | None = None
        self.records: list[Record] = []
        self.pager = Pager(0)
        self.error = ""
        """Why nothing (or this record) can be shown as contractors would see it ("" when fine)."""
        self.title = w.HTML()
        self.message = w.HTML()
        self.guidelines = w.Accordion(children=[w.HTML("")], selected_index=None)
        self.guidelines.set_title(0, "Guidelines (the contractor page)")
        self.guidelines.observe(self._opened, names="selected_index")
        self.record = w.HTML()
        self.previous = w.Button(description="Previous", icon="arrow-left", tooltip="previous record")
        self.next = w.Button(description="Next", icon="arrow-right", tooltip="next record")
        self.position = w.Label()
        self.previous.on_click(lambda _: self.go(self.pager.index - 1))
        self.next.on_click(lambda _: self.go(self.pager.index + 1))
        self.questions: Questions | None = None
        try:
            self.source = open_source(source)
            self.records = load_records(self.source, records)
        except Exception as err:
            self._fail(describe(err))
            return
        self.pager = Pager(len(self.records))
        self.questions = Questions(self.source.task)
        self.title.value = STYLE + self._title()
        self.children = [
            self.title,
            self.guidelines,
            self.message,
            self.record,
            w.HTML('<div class="lb-header">Questions</div>'),
            self.questions.widget,
            w.HBox(
                [self.previous, self.position, self.next],
                layout=w.Layout(align_items="center", grid_gap="12px"),
            ),
        ]
        self.go(0)

    def _fail(self, text: str) -> None:
        self.error = text
        self.message.value = message(text)
        self.children = [w.HTML(STYLE), self.message]

    def _title(self) -> str:
        assert self.source is not None
        version = self.source.version
        shown = f"version {version}" if version and version != "working" else "not released yet"
        if version == "working":
            shown = "changed since the latest release"
        return (
            f'<div class="lb-header">{html.escape(self.source.title)} '
            f'<span class="muted">· {shown} · {len(self.records)} records</span></div>'
        )

    def _opened(self, change: dict[str, Any]) -> None:
        if change["new"] == 0 and not self.guidelines.children[0].value and self.source is not None:
            try:
                self.guidelines.children[0].value = guide_frame(self.source.page)
            except Exception as err:
                self.guidelines.children[0].value = message(describe(err))

    def show_guidelines(self) -> None:
        """Open the guidelines (as clicking their title does)."""
        self.guidelines.selected_index = 0

    @property
    def current(self) -> Record | None:
        """The record shown."""
        return self.records[self.pager.index] if self.records else None

    def go(self, index: int) -> None:
        """Show the record at `index` (0-based; kept within the records)."""
        if self.source is None or self.questions is None or not self.records:
            return
        record = self.records[self.pager.go(index)]
        self.error = record.problem
        self.message.value = message(record.problem, "warning") if record.problem else ""
        try:
            body = self.source.record_html(record.fields)
        except Exception as err:
            self.error = describe(err)
            body = message(self.error)
        self.record.value = record_header(record) + body
        self.questions.reset(record.fields)
        self.position.value = self.pager.position
        self.previous.disabled = self.pager.index == 0
        self.next.disabled = self.pager.index >= self.pager.count - 1

    def labels(self) -> Sequence[str]:
        """Every label (and scale value) the controls offer, in task order."""
        if self.questions is None:
            return []
        out: list[str] = []
        for control in self.questions.controls.values():
            out += [str(o) for o in getattr(control, "options", [])]
        return out
