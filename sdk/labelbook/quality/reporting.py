"""The disagreement report: where annotators disagree, which guideline sections draw those lines,
and whether the last release helped; with the people and vendors behind the numbers.

    report = quality.report(frame, guide=guide, gold=gold)
    report.confusions      # question, label_a, label_b, count, rate, sections, rules
    report.to_html()       # one self-contained page (instruction_templates/report/report.html.j2)

A confusion is two labels given to the same record by two annotators. Its `sections` are the
guideline sections that contrast the two labels (a rule, paragraph or worked example naming both),
best first, then those that define either; `rules` are the rule ids among them that name both.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError
from labelbook.files import write_text
from labelbook.quality._frame import comparable, distinct, encode, hashable, select
from labelbook.quality.agreement import agreement
from labelbook.quality.gold import gold_accuracy, scorable_questions
from labelbook.quality.workforce import annotators as annotators_table
from labelbook.quality.workforce import vendors as vendors_table

if TYPE_CHECKING:
    import pandas as pd

    from labelbook.guide import Guide

__all__ = ["Report", "confusions", "contested", "guide_sections", "report"]

LEVEL_OF_KIND = {"label": "nominal", "multi_label": "masi", "rating": "ordinal", "ranking": "kendall"}


# --- the guide: which sections and rules speak of a label --------------------------------------


def _mentions(text: str, label: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text, flags=re.IGNORECASE) is not None


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)", text) if p.strip()]


def guide_sections(
    guide: Guide, question: str, label_a: Any, label_b: Any
) -> tuple[list[str], list[str], bool]:
    """The sections that contrast `label_a` and `label_b` (best first), then those that speak of
    either; the ids of the rules that name both; and whether any section contrasts them at all."""
    a, b = str(label_a), str(label_b)
    scored: list[tuple[int, int, str]] = []
    rules: list[str] = []
    for order, section in enumerate(guide.sections):
        score = 0
        for rule in section.rules:
            if _mentions(rule.text, a) and _mentions(rule.text, b):
                score += 3
                rules.append(rule.id)
        for paragraph in _paragraphs(section.body):
            if (
                _mentions(paragraph, a)
                and _mentions(paragraph, b)
                and not re.match(r"\s*[-*+]?\s*\[R-", paragraph)
            ):
                score += 2
        for example in section.examples:
            answer = example.answers.get(question)
            if str(answer) in (a, b) and _mentions(example.explanation, b if str(answer) == a else a):
                score += 2
        title_both = _mentions(section.title, a) and _mentions(section.title, b)
        score += 2 if title_both else 0
        if score:
            scored.append((score, -order, section.id))
            continue
        text = f"{section.title}\n{section.body}"
        if _mentions(text, a) or _mentions(text, b):
            scored.append((0, -order, section.id))
    scored.sort(reverse=True)
    return [section_id for _, _, section_id in scored], rules, bool(scored and scored[0][0] > 0)


# --- confusions and contested records ------------------------------------------------------------


def confusions(
    frame: pd.DataFrame, *, guide: Guide | None = None, questions: Sequence[str] | None = None
) -> pd.DataFrame:
    """Pairs of labels given to the same record by two annotators: question, label_a, label_b,
    count (answer pairs), rate (the share of the question's disagreeing pairs), sections (best
    first), rules (ids naming both labels), contrasted (some section names both labels)."""
    import numpy as np
    import pandas as pd

    columns = ["question", "label_a", "label_b", "count", "rate", "sections", "rules", "contrasted"]
    rows = []
    for question in _questions(frame, questions):
        coded = encode(select(frame, question, where="confusions", raw=True), where="confusions")
        if coded.kind not in ("label", "number") or coded.size == 0:
            continue
        n_items, n_cats = len(coded.records), len(coded.categories)
        table = np.bincount(coded.items * n_cats + coded.codes, minlength=n_items * n_cats)
        table = table.reshape(n_items, n_cats).astype(float)
        pairs = table.T @ table  # unordered label pairs (a, b), a != b: pairs[a, b]
        upper = np.triu(pairs, k=1)
        total = upper.sum()
        for i, j in zip(*np.nonzero(upper), strict=True):
            a, b = coded.categories[i], coded.categories[j]
            sections, rules, contrasted = (
                guide_sections(guide, str(question), a, b) if guide is not None else ([], [], False)
            )
            share = float(upper[i, j] / total)
            rows.append((question, a, b, int(upper[i, j]), share, sections, rules, contrasted))
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["count", "question"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def _questions(frame: pd.DataFrame, questions: Sequence[str] | None) -> list[Any]:
    if questions is not None:
        return list(questions)
    return scorable_questions(frame) if "question" in frame.columns else [None]


def contested(
    frame: pd.DataFrame,
    *,
    questions: Sequence[str] | None = None,
    rationales: Sequence[str] = (),
    top: int = 20,
    record_url: str | None = None,
) -> pd.DataFrame:
    """The records with the most divergent answers: record_id, question, disagreement (1 - the top
    answer's share), n_answers, answers (annotator, value, rationale each), url."""
    import pandas as pd

    columns = ["record_id", "question", "disagreement", "n_answers", "answers", "url"]
    candidates = []
    for question in _questions(frame, questions):
        answers = select(frame, question, where="contested")
        if not len(answers):
            continue
        keys = comparable(answers["value"])
        counts = answers.assign(_key=keys).groupby(["record_id", "_key"], sort=False).size()
        per_record = counts.groupby(level=0)
        top_share = per_record.max() / per_record.sum()
        sizes = per_record.sum()
        table = pd.DataFrame({"disagreement": 1 - top_share, "n_answers": sizes})
        table = table[(table["n_answers"] >= 2) & (table["disagreement"] > 0)]
        table["question"] = question
        candidates.append(table)
    if not candidates:
        return pd.DataFrame(columns=columns)
    ranked = pd.concat(candidates).sort_values(["disagreement", "n_answers"], ascending=False).head(top)
    submitted = frame[frame["status"] == "submitted"] if "status" in frame.columns else frame
    chosen = submitted[submitted["record_id"].isin(ranked.index)]
    notes: dict[tuple[Any, Any], str] = {}
    if rationales and "question" in chosen.columns:
        for row in chosen[chosen["question"].isin(rationales)].itertuples():
            if isinstance(row.value, str) and row.value.strip():
                key = (row.record_id, row.annotator)
                notes[key] = f"{notes[key]}\n{row.value}" if key in notes else row.value
    argilla_ids = (
        chosen.groupby("record_id")["argilla_record_id"].first()
        if "argilla_record_id" in chosen.columns
        else {}
    )
    rows = []
    for record_id, item in ranked.iterrows():
        question = item["question"]
        mine = chosen[chosen["record_id"] == record_id]
        if "question" in mine.columns:
            mine = mine[mine["question"] == question]
        given = [
            {
                "annotator": row.annotator,
                "vendor": getattr(row, "vendor", ""),
                "value": row.value,
                "rationale": notes.get((record_id, row.annotator), ""),
            }
            for row in mine.itertuples()
        ]
        url = None
        if record_url:
            url = record_url.format(record_id=record_id, argilla_record_id=argilla_ids.get(record_id, ""))
        rows.append((record_id, question, float(item["disagreement"]), int(item["n_answers"]), given, url))
    return pd.DataFrame(rows, columns=columns)


# --- by release ---------------------------------------------------------------------------------


def _by_release(
    frame: pd.DataFrame,
    gold: pd.DataFrame | None,
    levels: Mapping[str, str],
    questions: list[Any],
    n_boot: int,
) -> pd.DataFrame:
    import pandas as pd

    if "release" not in frame.columns:
        return pd.DataFrame()
    work = frame.assign(release=frame["release"].fillna("(before any release)"))
    table = agreement(
        work, by=["question", "release"], level=dict(levels), questions=questions, n_boot=n_boot
    )
    keep = ["question", "release", "items", "answers", "annotators", "percent_agreement"]
    keep += ["krippendorff_alpha", "krippendorff_alpha_low", "krippendorff_alpha_high"]
    table = table[keep] if len(table) else pd.DataFrame(columns=keep)
    table = table.assign(gold_n=0, gold_accuracy=math.nan, gold_low=math.nan, gold_high=math.nan)
    if gold is not None and len(table):
        scores = gold_accuracy(work, gold, by=["question", "release"], questions=questions).reset_index()
        scores = scores.rename(
            columns={"n": "gold_n", "accuracy": "gold_accuracy", "low": "gold_low", "high": "gold_high"}
        )
        table = table.drop(columns=["gold_n", "gold_accuracy", "gold_low", "gold_high"]).merge(
            scores[["question", "release", "gold_n", "gold_accuracy", "gold_low", "gold_high"]],
            on=["question", "release"],
            how="left",
        )
        table["gold_n"] = table["gold_n"].fillna(0).astype(int)
    return table


# --- the report ---------------------------------------------------------------------------------


@dataclass
class Report:
    """Everything `report()` found, as tables; `to_html()` renders them on one page."""

    agreement: pd.DataFrame
    """Per question: items, answers, percent agreement, Fleiss' kappa, Krippendorff's alpha, intervals."""
    confusions: pd.DataFrame
    """question, label_a, label_b, count, rate, sections (ids, best first), rules (ids naming both)."""
    contested: pd.DataFrame
    """The most divergent records: record_id, question, disagreement, n_answers, answers (each with its
    rationale), url."""
    by_release: pd.DataFrame
    """Per question and release: agreement with its interval and gold accuracy with its interval."""
    annotators: pd.DataFrame
    """`quality.annotators()`: one row per annotator, flagged ones with the reason."""
    vendors: pd.DataFrame | None
    """`quality.vendors()`: one row per vendor with its verdict (None without a vendor column)."""
    sections: pd.DataFrame
    """Guideline sections to revise, ranked: section_id, title, disagreements, confusions, rules
    (a label pair no section contrasts appears as "(none: a / b)", to write that section)."""
    title: str = "Annotation quality"
    """The guide's title, or a default."""
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    """When the report was made (UTC)."""
    dataset_url: str | None = None
    """The dataset in the Argilla UI, when known."""

    def to_html(
        self, template: str | os.PathLike[str] = "report", *, notebook_dir: Path | None = None
    ) -> str:
        """One self-contained HTML page: no scripts, no network requests, plots inline as SVG."""
        from labelbook.render import render_template

        context = {
            "report": self,
            "title": self.title,
            "generated": self.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
            "confusion_svgs": _confusion_svgs(self.confusions),
            "release_svg": _release_svg(self.by_release),
            "fmt": _fmt,
            "rows": lambda table: [] if table is None else table.reset_index().to_dict("records"),
        }
        return render_template(template, "report.html.j2", context, notebook_dir=notebook_dir)

    def _repr_html_(self) -> str:
        # In an iframe: the page's own styles (body, :root) must not restyle the notebook around it.
        return framed(self.to_html())

    def write(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write `to_html()` to `path` atomically."""
        return write_text(path, self.to_html(**options))


def framed(page: str, height: int = 640) -> str:
    """A whole HTML page as a sandboxed iframe, for Jupyter's rich display."""
    return (
        f'<iframe sandbox="" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width: 100%; height: {height}px; border: 1px solid #d0d7de; border-radius: 6px;"></iframe>'
    )


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _check_labels(frame: pd.DataFrame, guide: Guide, questions: list[Any]) -> None:
    """Answers outside the task's labels are an error that names them (a stale frame, a typo)."""
    for question in questions:
        try:
            spec = guide.task.question(str(question))
        except Exception:  # a question the task no longer has: nothing to check against
            continue
        labels = getattr(spec, "labels", None) or getattr(spec, "values", None)
        if not labels:
            continue
        known = {hashable(v) for v in labels}
        answers = select(frame, question, where="report", raw=True)
        seen: set[Any] = set()
        for key in distinct(answers["value"]):
            seen.update(key if isinstance(key, tuple) else (key,))
        unknown = sorted(seen - known, key=repr)
        if unknown:
            raise LabelbookError(
                f"report: question {question!r} has answers {', '.join(map(repr, unknown[:5]))} that are not "
                f"among its labels ({', '.join(map(repr, labels))}); the frame is from another task or "
                "release: pull again, or pass the guide of the release these answers were made under."
            )


def report(
    frame: pd.DataFrame,
    guide: Guide | None = None,
    gold: pd.DataFrame | None = None,
    *,
    rates: Any = None,
    bar: float = 0.8,
    vendor_bar: float = 0.85,
    top: int = 20,
    n_boot: int = 200,
    record_url: str | None = None,
    dataset_url: str | None = None,
) -> Report:
    """The disagreement report of a tidy frame; `guide` maps confusions to sections and rules and
    tells rationales (free-text questions) from labels; `gold` adds accuracy."""
    import pandas as pd

    select(frame.iloc[:0], None, where="report", required=("record_id", "annotator", "question", "value"))
    # Once here rather than in every table: submitted answers, the columns the tables read.
    keep = [c for c in frame.columns if not c.startswith(("field.", "metadata."))]
    frame = frame.loc[(frame["status"] == "submitted").to_numpy(), keep] if "status" in frame else frame[keep]
    questions: list[str] = scorable_questions(frame)
    levels: dict[str, str] = {}
    rationales: list[str] = []
    if guide is not None:
        kinds = {q.name: q.kind for q in guide.task.questions}
        present = set(pd.unique(frame["question"]))
        questions = [q for q in kinds if q in present and kinds[q] in LEVEL_OF_KIND] or questions
        levels = {q: LEVEL_OF_KIND[kinds[q]] for q in questions if kinds.get(q) in LEVEL_OF_KIND}
        rationales = [q for q, kind in kinds.items() if kind == "text"]
        _check_labels(frame, guide, questions)
    else:
        rationales = [q for q in pd.unique(frame["question"]) if q not in questions]
    overall = agreement(frame, level=levels or None, questions=questions, n_boot=n_boot)
    found = confusions(frame, guide=guide, questions=questions)
    people = annotators_table(frame, gold, bar=bar, questions=questions)
    vendor_rows = None
    if "vendor" in frame.columns:
        vendor_rows = vendors_table(
            frame, gold, rates=rates, bar=vendor_bar, questions=questions, people=people
        )
    by_release = _by_release(frame, gold, levels, questions, n_boot)
    return Report(
        agreement=overall,
        confusions=found,
        contested=contested(
            frame, questions=questions, rationales=rationales, top=top, record_url=record_url
        ),
        by_release=by_release,
        annotators=people,
        vendors=vendor_rows,
        sections=_sections_to_revise(found, guide),
        title=guide.title if guide is not None else "Annotation quality",
        dataset_url=dataset_url,
    )


def _sections_to_revise(found: pd.DataFrame, guide: Guide | None) -> pd.DataFrame:
    import pandas as pd

    columns = ["section_id", "title", "disagreements", "confusions", "rules"]
    if guide is None or not len(found):
        return pd.DataFrame(columns=columns)
    totals: dict[str, dict[str, Any]] = {}
    for row in found.itertuples():
        # The section that draws this line best; where none does, the missing section is the finding.
        section_id = row.sections[0] if row.contrasted else f"(none: {row.label_a} / {row.label_b})"
        entry = totals.setdefault(section_id, {"disagreements": 0, "confusions": [], "rules": []})
        entry["disagreements"] += int(row.count)
        entry["confusions"].append(f"{row.label_a} / {row.label_b}")
        entry["rules"] += [r for r in row.rules if r not in entry["rules"]]
    titles = {s.id: s.title for s in guide.sections}
    titles.update(
        {sid: f"No section contrasts {sid[7:-1]}: add one" for sid in totals if sid.startswith("(none: ")}
    )
    rows = [
        (sid, titles.get(sid, sid), v["disagreements"], v["confusions"], v["rules"])
        for sid, v in totals.items()
    ]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values("disagreements", ascending=False, kind="stable").reset_index(drop=True)


# --- plots (inline SVG, no plotting library) ------------------------------------------------------


def _text(x: float, y: float, body: str, *, anchor: str = "start", fill: str = "#1b1f24") -> str:
    """An SVG text element; `body` must already be escaped."""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{body}</text>'


def _confusion_svgs(found: pd.DataFrame) -> list[tuple[str, Any]]:
    """Per question: a heat map of how often two labels meet on one record."""
    from markupsafe import Markup

    out: list[tuple[str, Any]] = []
    if not len(found):
        return out
    for question, part in found.groupby("question", sort=False):
        labels = sorted(set(part["label_a"]) | set(part["label_b"]), key=repr)
        n = len(labels)
        if n > 12:
            continue
        cell, margin = 44, 110
        size = margin + n * cell + 10
        peak = max(int(part["count"].max()), 1)
        counts = {(r.label_a, r.label_b): int(r.count) for r in part.itertuples()}
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'role="img" aria-label="label confusions for {html.escape(str(question))}" '
            'font-family="sans-serif" font-size="12">'
        ]
        for i, label in enumerate(labels):
            text = html.escape(str(label))
            middle = margin + i * cell + cell / 2 + 4
            parts.append(_text(margin - 6, middle, text, anchor="end"))
            parts.append(f'<text transform="translate({middle},{margin - 6}) rotate(-45)">{text}</text>')
        for i, a in enumerate(labels):
            for j, b in enumerate(labels):
                if i == j:
                    fill, value = "#eef1f4", ""
                else:
                    value_n = counts.get((a, b), counts.get((b, a), 0))
                    shade = value_n / peak
                    fill = f"rgb({255 - int(150 * shade)},{255 - int(200 * shade)},{255 - int(200 * shade)})"
                    value = str(value_n)
                x, y = margin + j * cell, margin + i * cell
                parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}"/>')
                if value:
                    parts.append(_text(x + cell / 2 - 1, y + cell / 2 + 4, value, anchor="middle"))
        parts.append("</svg>")
        out.append((str(question), Markup("".join(parts))))
    return out


def _release_svg(table: pd.DataFrame) -> Any:
    """Krippendorff's alpha per release with its interval, one line per question."""
    from markupsafe import Markup

    if table is None or not len(table) or table["krippendorff_alpha"].isna().all():
        return None
    releases = list(dict.fromkeys(table["release"]))
    questions = list(dict.fromkeys(table["question"]))
    width, height, left, bottom, top = max(320, 120 + 110 * len(releases)), 240, 50, 40, 20
    low = min(
        0.0,
        float(
            table["krippendorff_alpha_low"].min(skipna=True)
            if table["krippendorff_alpha_low"].notna().any()
            else 0
        ),
    )
    span = 1.0 - low or 1.0

    def y(value: float) -> float:
        return top + (1.0 - value) / span * (height - top - bottom)

    def x(index: int) -> float:
        return left + 40 + index * (width - left - 80) / max(len(releases) - 1, 1)

    colours = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="agreement per release" font-family="sans-serif" font-size="12">'
    ]
    for tick in (low, (low + 1) / 2, 0.667, 0.8, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#d0d7de"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    for index, release in enumerate(releases):
        parts.append(_text(x(index), height - 12, html.escape(str(release)), anchor="middle"))
    for q_index, question in enumerate(questions):
        colour = colours[q_index % len(colours)]
        part = table[table["question"] == question]
        points = []
        for row in part.itertuples():
            if row.krippendorff_alpha != row.krippendorff_alpha:
                continue
            px = x(releases.index(row.release)) + 6 * q_index
            if row.krippendorff_alpha_low == row.krippendorff_alpha_low:
                parts.append(
                    f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y(row.krippendorff_alpha_low):.1f}" '
                    f'y2="{y(row.krippendorff_alpha_high):.1f}" stroke="{colour}" stroke-width="2"/>'
                )
            parts.append(
                f'<circle cx="{px:.1f}" cy="{y(row.krippendorff_alpha):.1f}" r="4" fill="{colour}"/>'
            )
            points.append(f"{px:.1f},{y(row.krippendorff_alpha):.1f}")
        if len(points) > 1:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-opacity=".5"/>'
            )
        parts.append(_text(left + 10, top + 14 + 14 * q_index, html.escape(str(question)), fill=colour))
    parts.append("</svg>")
    return Markup("".join(parts))
