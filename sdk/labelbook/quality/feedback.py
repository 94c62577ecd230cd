"""Feedback for one contractor: their misses on gold, each with the expert answer, their answer and
the guideline rule or section that decides it, to send as training.

Gold items shown to a contractor are no longer hidden: `retire` marks them retired (a JSON file in
the project's state folder, never uploaded). Retired items still score the answers given before
they were retired; answers given after are not gold evidence any more (`gold_accuracy` and the
rest drop them when the gold frame has a `retired_at` column, as `project.gold_status()` gives).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError
from labelbook.files import write_text
from labelbook.quality._frame import select
from labelbook.quality.gold import scored

if TYPE_CHECKING:
    import pandas as pd

    from labelbook.guide import Guide

__all__ = ["RETIRED", "Feedback", "feedback", "read_retired", "retire"]

RETIRED = "retired-gold.json"
"""The file, in the project's state folder, that lists retired gold items."""


@dataclass
class Feedback:
    """One contractor's misses on gold, ready to send."""

    annotator: str
    """Who it is for."""
    misses: pd.DataFrame
    """record_id, question, expected, given, explanation (the expert's rationale, if any),
    sections, rules, fields (the record's fields, if pulled)."""
    scored: int
    """Gold answers of theirs that were scored."""
    correct: int
    """How many of those were right."""
    title: str = "Guidelines"
    """The guide's title."""
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def record_ids(self) -> list[Any]:
        """The gold records this feedback shows (the ones to retire once it is sent)."""
        return list(dict.fromkeys(self.misses["record_id"]))

    def to_html(
        self, template: str | os.PathLike[str] = "feedback", *, notebook_dir: Path | None = None
    ) -> str:
        """One self-contained page for the contractor: no other contractor's names, no scripts."""
        from labelbook.render import render_template

        context = {
            "feedback": self,
            "title": self.title,
            "generated": self.generated_at.strftime("%Y-%m-%d"),
            "misses": self.misses.to_dict("records"),
        }
        return render_template(template, "feedback.html.j2", context, notebook_dir=notebook_dir)

    def _repr_html_(self) -> str:
        from labelbook.quality.reporting import framed

        return framed(self.to_html())

    def write(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write `to_html()` atomically."""
        return write_text(path, self.to_html(**options))


def feedback(
    frame: pd.DataFrame,
    gold: pd.DataFrame,
    guide: Guide | None = None,
    annotator: str | None = None,
    *,
    question: str | None = None,
) -> Feedback:
    """`annotator`'s misses on gold, each with the rule or section that decides it (from `guide`)."""
    import pandas as pd

    from labelbook.quality.reporting import guide_sections

    if annotator is None:
        raise LabelbookError("feedback: name the annotator (annotator='...').")
    select(frame.iloc[:0], None, where="feedback")
    if "annotator" in frame.columns and annotator not in set(pd.unique(frame["annotator"])):
        known = ", ".join(sorted(map(str, set(pd.unique(frame["annotator"])))))
        raise LabelbookError(f"feedback: no answers from {annotator!r}; annotators: {known or 'none'}.")
    questions = None
    if guide is not None and question is None and "question" in frame.columns:
        present = set(pd.unique(frame["question"]))
        questions = [q.name for q in guide.task.questions if q.kind != "text" and q.name in present]
    mine = frame[frame["annotator"] == annotator]
    answers = scored(mine, gold, question=question, questions=questions, where="feedback")
    misses = answers[~answers["correct"]]
    notes: dict[Any, str] = {}
    if "question" in gold.columns and guide is not None:
        texts = {q.name for q in guide.task.questions if q.kind == "text"}
        for row in gold[gold["question"].isin(texts)].itertuples():
            if isinstance(row.value, str) and row.value.strip():
                notes[row.record_id] = row.value
    field_columns = [c for c in frame.columns if c.startswith("field.")]
    rows = []
    for row in misses.to_dict("records"):
        asked = str(row.get("question", ""))
        sections: list[str] = []
        rules: list[str] = []
        if guide is not None:
            sections, rules, _ = guide_sections(guide, asked, row["expected"], row["value"])
        rows.append(
            {
                "record_id": row["record_id"],
                "question": asked,
                "expected": row["expected"],
                "given": row["value"],
                "explanation": notes.get(row["record_id"], ""),
                "sections": sections[:3],
                "rules": rules,
                "fields": {c[len("field.") :]: row[c] for c in field_columns if c in row},
            }
        )
    columns = ["record_id", "question", "expected", "given", "explanation", "sections", "rules", "fields"]
    return Feedback(
        annotator=annotator,
        misses=pd.DataFrame(rows, columns=columns),
        scored=len(answers),
        correct=int(answers["correct"].sum()) if len(answers) else 0,
        title=guide.title if guide is not None else "Guidelines",
    )


def read_retired(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """record_id → {"retired_at": ISO time, "shown_to": [annotators]} from the state folder."""
    path = Path(folder) / RETIRED
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise LabelbookError(f"{path}: unreadable ({err}); restore it from version control.") from err
    return {str(k): dict(v) for k, v in data.items()}


def retire(
    folder: str | os.PathLike[str], record_ids: Iterable[Any], annotator: str, at: datetime | None = None
) -> Path:
    """Mark gold items as retired (shown to `annotator`): the first retirement time is kept."""
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
    retired = read_retired(folder)
    for record_id in record_ids:
        entry = retired.setdefault(str(record_id), {"retired_at": when, "shown_to": []})
        if annotator not in entry["shown_to"]:
            entry["shown_to"].append(annotator)
    text = json.dumps(retired, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return write_text(Path(folder) / RETIRED, text)
