"""Scoring answers against the experts' gold: accuracy with Wilson intervals, confusion, drift.

`gold` is `project.gold()`'s frame: record_id, question, value (the expert answer). Answers are
compared exactly (lists as tuples: a ranking must match in order, a multi-label answer label for
label). Free-text questions are not scored: with `question=None` the questions scored are those
both frames share whose answers are numbers, or labels or lists with at most `MAX_LABELS` distinct
values (a text question has nearly one value per answer).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from labelbook.encoding import utc_series
from labelbook.errors import LabelbookError
from labelbook.quality._frame import comparable, distinct, hashable, select, wilson

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_LABELS", "drift", "gold_accuracy", "gold_confusion", "scorable_questions"]

MAX_LABELS = 50
"""A question with more distinct answers than this is treated as free text and not scored."""


def scorable_questions(frame: pd.DataFrame) -> list[str]:
    """The questions whose answers are categories (labels, numbers, label lists), in frame order."""
    import pandas as pd

    if "question" not in frame.columns:
        return []
    answered = frame[frame["value"].notna()]
    if "status" in answered.columns:
        answered = answered[answered["status"] == "submitted"]
    out = []
    for question in pd.unique(answered["question"]):
        values = answered.loc[answered["question"] == question, "value"]
        found = distinct(values)
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in found)
        if numeric or len(found) <= MAX_LABELS or len(found) <= 0.2 * len(values):
            out.append(str(question))
    return out


def _check_gold(gold: Any, where: str) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(gold, pd.DataFrame):
        raise LabelbookError(f"{where}: gold must be project.gold()'s frame (record_id, question, value).")
    missing = [c for c in ("record_id", "value") if c not in gold.columns]
    if missing:
        raise LabelbookError(
            f"{where}: the gold frame has no column {', '.join(map(repr, missing))}; "
            "pass project.gold()'s frame (record_id, question, value)."
        )
    return gold


def scored(
    frame: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    question: str | None = None,
    where: str = "gold_accuracy",
    questions: list[str] | None = None,
) -> pd.DataFrame:
    """The submitted answers on gold records, with `expected` (the gold value) and `correct`."""
    import pandas as pd

    gold = _check_gold(gold, where)
    select(frame.iloc[:0], None, where=where)  # columns
    if "question" in frame.columns:
        if question is not None:
            questions = [question]
        elif questions is None:
            questions = scorable_questions(frame)
        if question is not None and question not in set(pd.unique(frame["question"])):
            raise LabelbookError(f"{where}: no answers to question {question!r} in the frame.")
        parts = [select(frame, q, where=where) for q in questions]
        answers = pd.concat(parts) if parts else frame.iloc[:0]
    else:
        answers = select(frame, None, where=where)
    expected = gold[gold["value"].notna()]
    keys = (
        ["record_id", "question"]
        if "question" in expected.columns and "question" in answers
        else ["record_id"]
    )
    expected = (
        expected[[*keys, "value"]].drop_duplicates(keys, keep="last").rename(columns={"value": "expected"})
    )
    # Empty frames come with float keys; ids compare as they are, whatever the column's dtype.
    for key in keys:
        if expected[key].dtype != answers[key].dtype:
            if len(answers):  # convert the small gold frame, never the answers
                expected[key] = expected[key].astype(answers[key].dtype)
            else:
                answers = answers.astype({key: expected[key].dtype})
    retired = "retired_at" in gold.columns
    if retired:
        stamps = gold.drop_duplicates(keys, keep="last").set_index(keys)["retired_at"]
        expected = expected.join(stamps, on=keys)
    out = answers.merge(expected, on=keys, how="inner")
    if retired and "submitted_at" in out.columns:
        # A retired gold item was shown to someone: it scores only the answers given before that.
        cutoff = utc_series(out.pop("retired_at"))
        out = out[cutoff.isna() | (utc_series(out["submitted_at"]) <= cutoff)]
    elif retired:
        out = out.drop(columns=["retired_at"])
    given, expected_values = comparable(out["value"]), comparable(out["expected"])
    out["correct"] = given.to_numpy(dtype=object) == expected_values.to_numpy(dtype=object)
    return out.reset_index(drop=True)


def _summarise(scored_answers: pd.DataFrame, keys: list[str], ci: float) -> pd.DataFrame:
    import pandas as pd

    columns = ["n", "correct", "accuracy", "low", "high"]
    if not len(scored_answers):
        empty = pd.DataFrame(columns=columns)
        empty.index = (
            pd.MultiIndex.from_tuples([], names=keys) if len(keys) > 1 else pd.Index([], name=keys[0])
        )
        return empty
    grouped = scored_answers.groupby(keys, sort=True, dropna=False)["correct"]
    out = pd.DataFrame({"n": grouped.size(), "correct": grouped.sum().astype(int)})
    out["accuracy"] = out["correct"] / out["n"]
    out["low"], out["high"] = wilson(out["correct"], out["n"], ci)
    return out[columns]


def gold_accuracy(
    frame: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    by: str | Sequence[str] = "annotator",
    question: str | None = None,
    ci: float = 0.95,
    questions: list[str] | None = None,
) -> pd.DataFrame:
    """Per annotator (or `by` any columns, e.g. ["vendor"], ["release"]): n gold answers, correct,
    accuracy and its Wilson interval `low`/`high`."""
    keys = [by] if isinstance(by, str) else list(by)
    answers = scored(frame, gold, question=question, questions=questions)
    missing = [k for k in keys if k not in answers.columns]
    if missing:
        raise LabelbookError(f"gold_accuracy: by= names column(s) the frame lacks: {', '.join(missing)}.")
    return _summarise(answers, keys, ci)


def gold_confusion(frame: pd.DataFrame, gold: pd.DataFrame, *, question: str | None = None) -> pd.DataFrame:
    """Counts of (expert answer → answer given) for one question: rows gold labels, columns given ones."""
    import pandas as pd

    if question is None and "question" in frame.columns:
        questions = scorable_questions(frame)
        if len(questions) > 1:
            raise LabelbookError(
                f"gold_confusion: the frame holds several scorable questions ({', '.join(questions)}); "
                "pick one with question=."
            )
    answers = scored(frame, gold, question=question, where="gold_confusion")
    table = pd.crosstab(
        pd.Series([hashable(v) for v in answers["expected"]], name="gold", dtype=object),
        pd.Series([hashable(v) for v in answers["value"]], name="given", dtype=object),
    )
    labels = sorted(set(table.index) | set(table.columns), key=repr)
    return table.reindex(index=labels, columns=labels, fill_value=0)


def drift(
    frame: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    every: str | int = "W",
    by: str = "annotator",
    question: str | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Gold accuracy over time per annotator: per calendar period (`every="W"` weeks, "D" days, ...) or
    per block of `every` consecutive gold answers. Columns: by, period (start), n, correct, accuracy,
    low, high."""

    answers = scored(frame, gold, question=question, where="drift")
    if by not in answers.columns:
        raise LabelbookError(f"drift: by={by!r} is not a column of the frame.")
    if isinstance(every, int):
        if every < 1:
            raise LabelbookError(f"drift: every={every}; give a positive number of answers per block.")
        if "submitted_at" in answers.columns:
            answers = answers.sort_values("submitted_at", kind="stable")
        answers = answers.assign(period=answers.groupby(by).cumcount() // every)
    else:
        if "submitted_at" not in answers.columns:
            raise LabelbookError("drift: per-period drift needs the 'submitted_at' column; or pass every=N.")
        try:
            stamps = utc_series(answers["submitted_at"]).dt.tz_localize(None)
            answers = answers.assign(period=stamps.dt.to_period(every).dt.start_time)
        except ValueError as err:
            raise LabelbookError(
                f"drift: every={every!r} is not a pandas period such as 'W' or 'D' ({err})."
            ) from err
    return _summarise(answers, [by, "period"], ci).reset_index()
