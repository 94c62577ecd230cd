"""`Monitor`: a published project while contractors work: progress, pace, agreement and gold accuracy.

`summarize` turns a pulled frame into the tables shown (plain pandas over `labelbook.quality`);
`Monitor` pulls on a button or every N seconds in a background thread, so the kernel stays free.
"""

from __future__ import annotations

import html
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from labelbook_jupyter._html import STYLE, describe, message

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Monitor", "Snapshot", "summarize"]


@dataclass
class Snapshot:
    """What the monitor shows after one pull."""

    annotations: pd.DataFrame
    """The pulled tidy frame."""
    progress: dict[str, int]
    """Records: total, completed, pending."""
    annotators: pd.DataFrame
    """Per annotator (`quality.annotators`): vendor, answers, items, pace, agreement, gold accuracy, flags."""
    vendors: pd.DataFrame | None
    """Per vendor (`quality.vendors`), when the roster names vendors."""
    agreement: pd.DataFrame
    """Per question: percent agreement and Krippendorff's alpha (`quality.agreement`, no intervals)."""
    per_hour: pd.Series
    """Submitted records per hour (UTC), oldest first."""
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    """When the pull finished."""


def summarize(
    frame: pd.DataFrame,
    gold: pd.DataFrame | None,
    progress: dict[str, int],
    questions: list[str] | None = None,
) -> Snapshot:
    """The monitor's tables from a tidy frame (and the gold answers, when there are any); `questions`:
    the ones to score (the task's labels, scales and rankings, not free text; default: guessed)."""
    import warnings

    import pandas as pd

    from labelbook import quality

    gold = gold if gold is not None and len(gold) else None
    submitted = frame[frame["status"] == "submitted"]
    with warnings.catch_warnings():  # few answers early on: the tables say so by their counts
        warnings.simplefilter("ignore", quality.QualityWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if len(submitted):
            scored = frame if questions is None else frame[frame["question"].isin(questions)]
            people = quality.annotators(scored, gold, questions=questions)
            vendors = (
                quality.vendors(scored, gold, people=people, questions=questions)
                if frame["vendor"].astype(bool).any()
                else None
            )
            agreement = quality.agreement(scored, ci=None, questions=questions)
        else:
            people, vendors, agreement = pd.DataFrame(), None, pd.DataFrame()
    responses = submitted.drop_duplicates(["record_id", "annotator"])
    per_hour = (
        responses.set_index("submitted_at").resample("1h").size() if len(responses) else pd.Series(dtype=int)
    )
    return Snapshot(frame, progress, people, vendors, agreement, per_hour)


def _number(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _bar(value: Any) -> str:
    """A number from 0 to 1 with a small bar under it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    width = max(0.0, min(1.0, float(value))) * 100
    color = "#1a7f37" if value >= 0.8 else "#9a6700" if value >= 0.6 else "#b3261e"
    return (
        f"{value:.2f}<div style='height:4px;background:#eaeef2;width:6em'>"
        f"<div style='height:4px;width:{width:.0f}%;background:{color}'></div></div>"
    )


def annotators_html(table: pd.DataFrame) -> str:
    """The annotators' table: answers, pace, agreement with the consensus, gold accuracy, flags."""
    if table is None or not len(table):
        return "<p class='muted'>No answers yet.</p>"
    rows = []
    for name, row in table.iterrows():
        flag = f"<span title='{html.escape(row['reason'])}'>⚠ {html.escape(row['reason'])}</span>"
        rows.append(
            f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(str(row.get('vendor', '')))}</td>"
            f"<td>{_number(row['answers'])}</td><td>{_number(row['items'])}</td>"
            f"<td>{_number(row['items_per_hour'], 1)}</td><td>{_bar(row['agreement'])}</td>"
            f"<td>{_bar(row['gold_accuracy'])} <span class='muted'>({_number(row['gold_n'])})</span></td>"
            f"<td>{flag if row['flagged'] else ''}</td></tr>"
        )
    head = (
        "<tr><th>Annotator</th><th>Vendor</th><th>Answers</th><th>Records</th><th>Records / hour</th>"
        "<th>Agreement</th><th>Gold accuracy (n)</th><th>Flag</th></tr>"
    )
    return f"<table class='lb-table lb-annotators'>{head}{''.join(rows)}</table>"


def vendors_html(table: pd.DataFrame | None) -> str:
    """The vendors' table: people, answers, gold accuracy, agreement, whether they meet the bar."""
    if table is None or not len(table):
        return ""
    rows = []
    for name, row in table.iterrows():
        verdict = "meets the bar" if row.get("meets_bar") else html.escape(str(row.get("reason", "")))
        rows.append(
            f"<tr><td>{html.escape(str(name))}</td><td>{_number(row.get('annotators'))}</td>"
            f"<td>{_number(row.get('answers'))}</td><td>{_bar(row.get('gold_accuracy'))}</td>"
            f"<td>{_bar(row.get('agreement'))}</td><td>{verdict}</td></tr>"
        )
    head = (
        "<tr><th>Vendor</th><th>Annotators</th><th>Answers</th><th>Gold accuracy</th>"
        "<th>Agreement</th><th>Verdict</th></tr>"
    )
    body = "".join(rows)
    return f"<p class='lb-question-title'>Vendors</p><table class='lb-table lb-vendors'>{head}{body}</table>"


def agreement_html(table: pd.DataFrame) -> str:
    """Agreement per question."""
    if table is None or not len(table):
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(str(row['question']))}</td><td>{_number(row.get('items'))}</td>"
        f"<td>{_bar(row.get('percent_agreement'))}</td><td>{_number(row.get('krippendorff_alpha'))}</td></tr>"
        for row in table.reset_index().to_dict("records")
    )
    head = "<tr><th>Question</th><th>Records</th><th>Percent agreement</th><th>Krippendorff's α</th></tr>"
    return f"<p class='lb-question-title'>Agreement</p><table class='lb-table'>{head}{rows}</table>"


def per_hour_svg(series: pd.Series, hours: int = 24) -> str:
    """Records submitted per hour, the last `hours` hours with answers, as a small inline bar chart."""
    if series is None or not len(series):
        return ""
    shown = series.tail(hours)
    top = max(int(shown.max()), 1)
    width, height, gap = 16, 60, 3
    bars = []
    for i, (stamp, count) in enumerate(shown.items()):
        h = int(count) / top * height
        label = f"{stamp:%Y-%m-%d %H:00} UTC: {int(count)} records"
        bars.append(
            f"<rect x='{i * (width + gap)}' y='{height - h:.1f}' width='{width}' height='{h:.1f}' "
            f"fill='#0b5cad'><title>{label}</title></rect>"
        )
    total_width = len(shown) * (width + gap)
    return (
        "<p class='lb-question-title'>Records submitted per hour (UTC)</p>"
        f"<svg role='img' aria-label='records per hour' width='{total_width}' height='{height + 2}'>"
        f"{''.join(bars)}</svg>"
        f"<p class='muted'>last hour: {int(shown.iloc[-1])} · busiest: {top}</p>"
    )


class Monitor(w.VBox):
    """Progress, answers per annotator and per hour, agreement and gold accuracy per annotator and
    vendor, refreshed on the button or every `every` seconds (in a background thread).

    project: a `Project`, or the guide notebook's path (reconnects like `Project.open`).
    `.annotations` holds the latest pulled frame; `.refresh()` pulls now; `.stop()` ends the timer.
    """

    def __init__(self, project: object, every: float | None = None) -> None:
        super().__init__()
        self.add_class("lb-widget")
        self.project: Any = None
        self._scored: list[str] | None = None
        self.snapshot: Snapshot | None = None
        self.error = ""
        """Why the last refresh failed ("" when it did not)."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.title = w.HTML(STYLE)
        self.message = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.updated = w.Label()
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="24em"))
        self.progress = w.HTML()
        self.people = w.HTML()
        self.groups = w.HTML()
        self.hours = w.HTML()
        self.children = [
            self.title,
            self.message,
            w.HBox(
                [self.refresh_button, self.updated], layout=w.Layout(align_items="center", grid_gap="12px")
            ),
            w.HBox([self.bar, self.progress], layout=w.Layout(align_items="center", grid_gap="12px")),
            self.people,
            self.groups,
            self.hours,
        ]
        self._owned = False
        """Whether the monitor opened the project's connection itself (and closes it in `close`)."""
        try:
            self.project = self._open(project)
            self._owned = self.project is not project
        except Exception as err:
            self._fail(describe(err))
            return
        state = self.project.state
        self.title.value = STYLE + (
            f'<div class="lb-header">Monitor: {html.escape(state.dataset)} '
            f'<span class="muted">· release {html.escape(str(state.version))}</span> '
            f'<a href="{html.escape(self.project.url)}" target="_blank" rel="noopener">open in Argilla</a>'
            "</div>"
        )
        self.refresh()
        if every:
            self.start(every)

    @staticmethod
    def _open(project: object) -> Any:
        from labelbook.argilla import Project

        if isinstance(project, Project):
            return project
        if hasattr(project, "state") and hasattr(project, "annotations"):
            return project
        import os

        if isinstance(project, str | os.PathLike):
            return Project.open(project)
        raise TypeError(
            f"Monitor takes a Project or a guide notebook's path, not a {type(project).__name__}."
        )

    def _fail(self, text: str) -> None:
        self.error = text
        self.message.value = message(text)

    @property
    def annotations(self) -> pd.DataFrame | None:
        """The latest pulled tidy frame (None before the first successful pull)."""
        return self.snapshot.annotations if self.snapshot is not None else None

    def refresh(self) -> Snapshot | None:
        """Pull the annotations now and redraw; a failure (a server that is down) shows as a message."""
        if self.project is None:
            return None
        with self._lock:
            try:
                frame = self.project.annotations()
                gold = self.project.gold()
                progress = self.project.progress()
                snapshot = summarize(frame, gold, progress, self._questions())
            except Exception as err:
                self._fail(describe(err))
                return None
            self.snapshot = snapshot
            self.error = ""
            self.message.value = ""
            self._draw(snapshot)
            return snapshot

    def _questions(self) -> list[str] | None:
        """The live release's questions with categories to agree on (free text left out)."""
        if self._scored is None:
            from labelbook.releases import open_release
            from labelbook.task import Task

            try:
                release = open_release(self.project.notebook, self.project.state.version)
                task = Task.from_json(release.text("task.json"))
            except Exception:
                return None
            self._scored = [q.name for q in task.questions if q.kind not in ("text", "span")]
        return self._scored

    def _draw(self, snapshot: Snapshot) -> None:
        total, done = snapshot.progress["total"], snapshot.progress["completed"]
        self.bar.max = max(total, 1)
        self.bar.value = done
        answered = snapshot.annotations
        responses = answered[answered["status"] == "submitted"].drop_duplicates(["record_id", "annotator"])
        self.progress.value = (
            f"{done} of {total} records complete · {len(responses)} submitted responses "
            f"from {responses['annotator'].nunique()} annotators"
        )
        self.updated.value = f"updated {snapshot.at:%H:%M:%S} UTC"
        self.people.value = "<p class='lb-question-title'>Annotators</p>" + annotators_html(
            snapshot.annotators
        )
        self.groups.value = vendors_html(snapshot.vendors) + agreement_html(snapshot.agreement)
        self.hours.value = per_hour_svg(snapshot.per_hour)

    def start(self, every: float) -> None:
        """Refresh every `every` seconds in a background thread (the kernel stays free)."""
        if every <= 0:
            raise ValueError(f"every must be a number of seconds above 0, got {every!r}.")
        self.stop()
        self._stop = threading.Event()
        stop = self._stop

        def loop() -> None:
            while not stop.wait(every):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="labelbook-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing on a timer."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the timer is refreshing."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the timer, close the connection it opened and close the widgets."""
        self.stop()
        if self._owned and self.project is not None:
            self.project.close()
            self._owned = False
        super().close()
