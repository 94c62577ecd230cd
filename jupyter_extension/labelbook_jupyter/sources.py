"""What the widgets show: a guide (from a Guide, a Release or a notebook path), records and gold answers.

Plain Python, no widgets: `open_source` resolves what the researcher passed into a `Source` that
renders the contractor page and each record through the same templates `labelbook build` uses;
`load_records` and `load_gold` read records and expert answers as publish reads them, keeping
each record's problem (a missing field, a malformed trajectory) for the widget to show on its page.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError, RecordsError, TaskError
from labelbook.guide import Guide
from labelbook.task import ChatField, Task

if TYPE_CHECKING:
    from labelbook.releases import Release

__all__ = ["Gold", "Record", "Source", "load_gold", "load_records", "open_source"]

NOTEBOOK_SUFFIXES = (".ipynb", ".py", ".md")


@dataclass
class Source:
    """A guide as contractors get it: its task, its contractor page and the markup for one record."""

    guide: Guide
    """The guide (for a Release: its task and title, with no sections; the page comes from the release)."""
    version: str | None
    """The release version; "working" for a notebook changed since its latest release; None before any."""
    release: Release | None = None
    """The release, when the source was one."""
    _page: str | None = field(default=None, repr=False)
    _macros: Any = field(default=None, repr=False)

    @property
    def task(self) -> Task:
        """The task: fields, questions, labels with their definitions."""
        return self.guide.task

    @property
    def title(self) -> str:
        """The guide's title."""
        return self.guide.title

    @property
    def page(self) -> str:
        """The contractor page (guide.html) exactly as `labelbook build` or the release wrote it."""
        if self._page is None:
            from labelbook.render import render

            self._page = render(self.guide, "contractor")
        return self._page

    def record_html(self, fields: Mapping[str, Any]) -> str:
        """One record's fields through the contractor template's `record_value` macro, in task order."""
        if self._macros is None:
            from labelbook.render import template_macros

            self._macros = template_macros(self.guide, "contractor")
            if not hasattr(self._macros, "record_value"):  # an override that drops the macro
                self._macros = template_macros(self.guide, "labelbook/contractor/guide.html.j2")
        import html

        parts = []
        for item in self.task.fields:
            if item.name not in fields or fields[item.name] is None:
                continue
            title = html.escape(item.title)
            parts.append(
                f'<section class="field" aria-label="{title}"><p class="field-title">{title}</p>'
                f"{self._macros.record_value(item, fields[item.name])}</section>"
            )
        return "\n".join(parts)


def _released_version(guide: Guide) -> str | None:
    from labelbook.releases import WORKING, latest_release

    try:
        latest = latest_release(guide.source_path)
    except LabelbookError:
        return WORKING
    if latest is None:
        return None
    return str(latest.version) if latest.source_hash == guide.source_hash else WORKING


def _release_guide(release: Release) -> Guide:
    snapshot = release.snapshot()
    task_path = release.path / "task.json"
    task = Task.from_json(release.text("task.json"), source=str(task_path))
    store = release.path.parent
    source = store.parent / str(release.manifest.get("source", {}).get("path", f"{store.stem}.ipynb"))
    return Guide(
        title=str(snapshot.get("title", "")),
        metadata={},
        task=task,
        task_cell=0,
        sections=(),
        source_path=source,
        source_hash=release.source_hash,
    )


def open_source(source: object) -> Source:
    """A Source from a Guide, a Release, a Project (its live release) or a notebook path."""
    from labelbook.releases import Release

    if isinstance(source, Source):
        return source
    if isinstance(source, Guide):
        return Source(source, _released_version(source))
    if isinstance(source, Release):
        return Source(_release_guide(source), str(source.version), source, _page=source.text("guide.html"))
    state = getattr(source, "state", None)
    if state is not None and hasattr(source, "notebook") and hasattr(state, "version"):
        from labelbook.releases import open_release

        return open_source(open_release(source.notebook, state.version))
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.suffix not in NOTEBOOK_SUFFIXES:
            raise LabelbookError(
                f"{path}: not a guide notebook; pass a .ipynb (or jupytext .py/.md) notebook, "
                "a Guide (`lb.load(...)`) or a Release."
            )
        from labelbook.notebook import load

        return open_source(load(path))
    raise LabelbookError(
        f"cannot show a {type(source).__name__}: pass a guide notebook's path, a Guide (`lb.load(...)`) "
        "or a Release (`lb.release(...)`)."
    )


class Record:
    """One record to show: its id, its field values, and why it cannot be shown as is (if it cannot).

    A row is read, decoded and checked against the task only when first used, so a widget over
    thousands of records opens as fast as over ten.
    """

    def __init__(
        self,
        id: str | None,
        fields: Mapping[str, Any],
        problem: str = "",
        answers: Mapping[str, Any] | None = None,
        explanation: str = "",
        *,
        task: Task | None = None,
        where: str = "",
    ) -> None:
        self._id = id
        self._raw = fields
        self._problem = problem
        self._task = task
        self._where = where
        self.answers: Mapping[str, Any] = dict(answers or {})
        """The worked example's answers, when the record is one."""
        self.explanation = explanation
        """The worked example's explanation, when the record is one."""

    def __repr__(self) -> str:
        return f"Record(id={self.id!r})"

    @functools.cached_property
    def fields(self) -> Mapping[str, Any]:
        """Field name → value (chat values given as JSON text decoded; numpy and NaN as plain Python)."""
        if self._task is None:
            return dict(self._raw)
        from labelbook.argilla.records import plain

        known = {f.name: f for f in self._task.fields}
        values = {key: _decoded(known[key], plain(v)) for key, v in self._raw.items() if key in known}
        return {key: v for key, v in values.items() if v is not None}

    @functools.cached_property
    def id(self) -> str:
        """The id column's value, the worked example's id, or a hash of the fields (as publish makes)."""
        if self._id is not None:
            return self._id
        from labelbook.argilla.records import content_id

        return content_id(dict(self.fields))

    @functools.cached_property
    def problem(self) -> str:
        """What is wrong with it for this task ("" when nothing is)."""
        if self._problem or self._task is None:
            return self._problem
        try:
            self._task.validate_record(self.fields)
        except TaskError as err:
            return f"{self._where}: {err}"
        return ""


def _decoded(task_field: object, value: Any) -> Any:
    if isinstance(task_field, ChatField) and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _examples(source: Source) -> list[Record]:
    if source.release is not None:
        items = source.release.snapshot().get("examples", [])
        return [
            Record(str(e["id"]), dict(e["record"]), "", dict(e["answers"]), str(e.get("explanation", "")))
            for e in items
        ]
    return [Record(e.id, dict(e.record), "", dict(e.answers), e.explanation) for e in source.guide.examples]


def load_records(source: Source, records: object = None, *, id_column: str = "id") -> list[Record]:
    """Records as the widgets show them: a DataFrame, a list of dicts or a .jsonl/.csv/.parquet file
    (None: the guide's worked examples). A row that misses a field keeps its problem, shown on its
    page; a file that cannot be read, or a required field no row has, raises RecordsError."""
    if records is None:
        return _examples(source)
    from labelbook.argilla.records import read_rows

    rows, name, _ = read_rows(records)
    if not rows:
        raise RecordsError(f"{name}: no records to show; pass at least one row.")
    task = source.task
    present = {key for row in rows for key in row}
    for item in task.fields:
        if item.required and item.name not in present:
            columns = ", ".join(sorted(present)) or "none"
            raise RecordsError(
                f"{name}: no column for required field {item.name!r} of task {task.name!r} "
                f"(columns: {columns}); rename the column, or pass records that have it."
            )
    out: list[Record] = []
    for number, row in enumerate(rows, 1):
        raw_id = row.get(id_column)
        out.append(
            Record(None if raw_id is None else str(raw_id), row, task=task, where=f"row {number} of {name}")
        )
    return out


@dataclass(frozen=True)
class Gold:
    """The expert answers to one record, and why they are right."""

    answers: Mapping[str, Any]
    """Question name → the expert's answer."""
    explanation: str = ""
    """Markdown: why (the gold file's `explanation` column, or the worked example's explanation)."""


def load_gold(task: Task, gold: object) -> dict[str, Gold]:
    """Gold answers by record id: `project.gold()`'s tidy frame (record_id, question, value, optional
    explanation), or a gold file / list of dicts / frame with an id column and a column per question."""
    if gold is None:
        return {}
    columns = getattr(gold, "columns", None)
    to_dict = getattr(gold, "to_dict", None)
    if columns is not None and to_dict is not None and {"record_id", "question", "value"} <= set(columns):
        from labelbook.argilla.records import plain

        answers: dict[str, dict[str, Any]] = {}
        notes: dict[str, str] = {}
        problems = []
        for number, row in enumerate(to_dict("records"), 1):
            record_id, question, value = str(row["record_id"]), str(row["question"]), plain(row["value"])
            try:
                task.question(question).validate_value(value)
            except TaskError as err:
                problems.append(f"row {number}: {err}")
                continue
            answers.setdefault(record_id, {})[question] = value
            if isinstance(row.get("explanation"), str) and row["explanation"]:
                notes[record_id] = row["explanation"]
        if problems:
            raise RecordsError(f"gold answers: {len(problems)} problem(s): {problems[0]}", problems)
        return {rid: Gold(given, notes.get(rid, "")) for rid, given in answers.items()}
    from labelbook.argilla.answers import read_answers
    from labelbook.argilla.records import read_rows

    rows, _, _ = read_rows(gold, "gold")
    expected = read_answers(task, rows)
    notes = {
        str(row["id"]): str(row["explanation"]) for row in rows if row.get("id") and row.get("explanation")
    }
    return {rid: Gold(given, notes.get(rid, "")) for rid, given in expected.items()}


def worked_gold(records: Sequence[Record]) -> dict[str, Gold]:
    """The worked examples' answers as gold (what `TryIt` checks against when no gold is given)."""
    return {r.id: Gold(dict(r.answers), r.explanation) for r in records if r.answers}


@functools.lru_cache(maxsize=1)
def researcher() -> str:
    """Who is trying the task: git's user.name, else the login name (as releases record the author)."""
    from labelbook.releases import author

    return author()
